// The watch gate's client half. While the video plays, report the player's state to the server
// every few seconds; the server decides how much watching to credit (rule W1) and this script
// only shows its answer: the bar, the label, and the unlocked form. Nothing here counts time.
(function () {
  "use strict";

  // Parts meant only for browsers without JavaScript hide once this runs. (<noscript> cannot
  // be used: htmx parses swapped-in content with scripting off, which would show it.)
  document.documentElement.classList.replace("no-js", "js");

  var INTERVAL_MS = 5000;

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function setGates(root, unlocked) {
    root.querySelectorAll("fieldset.gated").forEach(function (fieldset) {
      fieldset.disabled = !unlocked;
    });
  }

  function setupPlayer(player) {
    if (player.dataset.ready) return;
    player.dataset.ready = "1";
    var work = player.closest(".work") || document;
    var video = player.querySelector("video");
    var fill = player.querySelector(".watch-fill");
    var bar = player.querySelector(".watch-bar");
    var label = player.querySelector(".watch-label");
    var reason = player.querySelector(".watch-reason");
    var replay = player.querySelector(".watch-replay");
    var url = player.dataset.heartbeatUrl;
    var timer = null;
    var stopped = false;

    function show(state) {
      var required = state.required_seconds || 0;
      var credited = state.credited_seconds || 0;
      var percent = required ? Math.min(100, Math.round((100 * credited) / required)) : 100;
      fill.style.width = percent + "%";
      bar.setAttribute("aria-valuenow", String(Math.floor(credited)));
      player.dataset.unlocked = state.unlocked ? "1" : "";
      // The server's reason for counting less than the time that passed, in its words; once
      // unlocked there is nothing left to explain.
      reason.textContent = state.unlocked || state.consumed ? "" : state.shortfall_text || "";
      replay.hidden = !(state.shortfall === "ended" && !state.unlocked && !state.consumed);
      if (state.consumed) {
        label.textContent = "This viewing was used for a submission.";
      } else if (state.unlocked) {
        label.textContent = "Unlocked: you can submit";
      } else {
        label.innerHTML =
          "Watch with sound: <b class=\"credited\">" + Math.floor(credited) + "</b> of " +
          Math.round(required) + " s";
      }
      setGates(work, !!state.unlocked);
    }

    function beat() {
      if (stopped || !document.body.contains(player)) return stop();
      var body = {
        position: video.currentTime || 0,
        playing: !video.paused && !video.ended,
        visible: document.visibilityState === "visible",
        muted: video.muted,
        volume: video.volume,
        rate: video.playbackRate
      };
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body)
      })
        .then(function (response) {
          return response.json().then(function (data) {
            if (!response.ok) throw new Error(data.detail || "The server did not accept the heartbeat.");
            return data;
          });
        })
        .then(show)
        .catch(function (error) {
          label.textContent = error.message;
          stopped = true;
          stop();
        });
    }

    function start() {
      if (!timer) timer = setInterval(beat, INTERVAL_MS);
    }

    function stop() {
      if (timer) clearInterval(timer);
      timer = null;
    }

    replay.addEventListener("click", function () {
      video.currentTime = 0;
      video.play();
      replay.hidden = true;
      video.focus();
    });

    // A heartbeat at each change of state, and every few seconds while playing.
    video.addEventListener("play", function () { beat(); start(); });
    video.addEventListener("pause", function () { beat(); stop(); });
    video.addEventListener("ended", function () { beat(); stop(); });
    video.addEventListener("ratechange", beat);
    video.addEventListener("seeked", beat);
    video.addEventListener("volumechange", beat);
    document.addEventListener("visibilitychange", beat);
  }

  // The live preview of a question: the template with the chosen slot values filled in.
  function updatePreview(form) {
    var preview = form.querySelector(".preview");
    if (!preview) return;
    var values = Array.prototype.map.call(form.querySelectorAll("select[data-slot-index]"), function (s) {
      return s.value;
    });
    var index = 0;
    preview.textContent = preview.dataset.template.replace(/<\w+>/g, function (slot) {
      return index < values.length ? values[index++] : slot;
    });
  }

  function setup(root) {
    root.querySelectorAll(".player[data-heartbeat-url]").forEach(setupPlayer);
    // A form swapped in after the player unlocked keeps the player's state.
    root.querySelectorAll("fieldset.gated").forEach(function (fieldset) {
      var work = fieldset.closest(".work");
      var player = work && work.querySelector(".player");
      if (player && player.dataset.unlocked) fieldset.disabled = false;
    });
    root.querySelectorAll("form.ask-form").forEach(updatePreview);
  }

  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form.ask-form");
    if (form) updatePreview(form);
  });

  // Keyboard shortcuts (listed in the "?" dialog). Single keys can be turned off there, for
  // screen readers and speech input; the choice is kept in this browser.
  var KEYS_OFF = "avqa-shortcuts-off";

  function shortcutsOff() {
    try {
      return window.localStorage.getItem(KEYS_OFF) === "1";
    } catch (error) {
      return false;
    }
  }

  function typing(target) {
    var tag = (target.tagName || "").toLowerCase();
    return tag === "input" || tag === "select" || tag === "textarea" || target.isContentEditable;
  }

  function clickIf(selector) {
    var element = document.querySelector(selector);
    if (element) element.click();
    return !!element;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var help = document.getElementById("keys-help");
    if (event.key === "?") {
      if (!help) return;
      event.preventDefault();
      if (help.open) help.close();
      else help.showModal();
      return;
    }
    if ((help && help.open) || shortcutsOff()) return;
    var video = document.querySelector(".work video");
    var handled = false;
    if (event.key === "k" && video) {
      if (video.paused) video.play();
      else video.pause();
      handled = true;
    } else if ((event.key === "j" || event.key === "l") && video) {
      video.currentTime = Math.max(0, video.currentTime + (event.key === "j" ? -5 : 5));
      handled = true;
    } else if (event.key === "s") {
      handled = clickIf(".work form.skip button");
    } else if (event.key === "Enter" && event.target === document.body) {
      handled = clickIf(".work fieldset.gated:not([disabled]) button[type=submit].primary");
    } else {
      // Answers: the key shown on each button presses it, when the answers are unlocked.
      handled = clickIf('fieldset.answers:not([disabled]) button[data-key="' + event.key + '"]');
    }
    if (handled) event.preventDefault();
  });

  function setupKeysHelp() {
    var box = document.getElementById("keys-off");
    if (!box || box.dataset.ready) return;
    box.dataset.ready = "1";
    box.checked = shortcutsOff();
    box.addEventListener("change", function () {
      try {
        window.localStorage.setItem(KEYS_OFF, box.checked ? "1" : "0");
      } catch (error) {
        /* storage refused: the choice lasts until the page is left */
      }
    });
  }

  // After each swap of the work area, focus moves to its heading, so keyboard and screen-reader
  // users start on the new video or question, not on a button that no longer exists.
  document.addEventListener("htmx:afterSwap", function (event) {
    // Only when the whole work area was replaced (a new video or question), not when a part of
    // it was (choosing a template swaps the form, and the focus stays on the list).
    var work = document.getElementById("work");
    if (!work || event.detail.target.id !== "work") return;
    var heading = work.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: false });
    }
  });

  document.addEventListener("DOMContentLoaded", setupKeysHelp);

  if (window.htmx) {
    window.htmx.onLoad(setup);
  } else {
    document.addEventListener("DOMContentLoaded", function () { setup(document); });
  }
})();
