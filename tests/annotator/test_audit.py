"""The rule audit: clean after honest work through the services, and it names every forged row."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from annotator import services
from annotator.audit import COUNTS, rules_audit
from annotator.models import Answer, Question, QuestionStatus, QuestionTemplate, Video, Vote
from tests.annotator.helpers import ask, legal_slots, vote, watched


@pytest.fixture
def crowd(make_annotator, video):
    """Five people; one asks, the others answer: one question accepted, one invalid, one open."""
    people = [make_annotator(f"person{n}") for n in range(5)]
    accepted = ask(people[0], video, template_id=1)
    vote(people[1], accepted, "yes")
    vote(people[2], accepted, "yes")
    invalid = ask(people[0], video, template_id=2)
    vote(people[1], invalid, None)
    vote(people[2], invalid, None)
    opened = ask(people[1], video, template_id=3)
    vote(people[3], opened, "no")
    return people, accepted, invalid, opened


def findings(rule: str) -> list[str]:
    return rules_audit().findings[rule]


def test_honest_work_through_the_services_breaks_no_rule(crowd):
    audit = rules_audit()
    assert audit.violations == 0, audit.report()
    assert (audit.questions, audit.votes) == (3, 5)


def test_a_question_without_enough_watching_breaks_w1(crowd, video):
    people, *_ = crowd
    session = services.watch_start(annotator=people[4], video=video)
    template = QuestionTemplate.objects.get(pk=4)
    forged = Question.objects.create(
        video=video,
        template=template,
        slot_values=legal_slots(template),
        author=people[4],
        watch_session=session,
    )
    assert findings("W1") == [f"question {forged.pk}: viewing {session.pk} credited 0.0 s only"]


def test_a_vote_on_someone_elses_viewing_breaks_w1(crowd, video):
    people, _, _, opened = crowd
    theirs = watched(people[2], video)
    theirs.consumed_at = timezone.now()
    theirs.save()
    forged = Vote.objects.create(
        question=opened,
        annotator=people[4],
        answer=Answer.objects.get(text="yes"),
        watch_session=theirs,
    )
    assert findings("W1") == [
        f"vote {forged.pk}: viewing {theirs.pk} belongs to another person or video"
    ]


def test_more_live_questions_than_a_video_takes_breaks_q3(crowd, video, settings):
    settings.QUESTIONS_PER_VIDEO = 1
    assert findings("Q3") == [f"video {video.pk} has 2 live questions"]


def test_an_answer_of_the_wrong_kind_breaks_a1(crowd):
    *_, opened = crowd
    Vote.objects.filter(question=opened).update(answer=Answer.objects.get(text="cello"))
    assert findings("A1") == [
        f"vote {Vote.objects.get(question=opened).pk}: 'cello' is not a yes_no"
    ]


def test_the_author_voting_breaks_a2(crowd):
    people, _, _, opened = crowd
    Vote.objects.filter(question=opened).update(annotator=people[1])
    vote_id = Vote.objects.get(question=opened).pk
    assert findings("A2") == [f"vote {vote_id}: the author voted on {opened.pk}"]


def test_a_status_its_votes_do_not_give_is_named_by_its_rule(crowd):
    _, _, invalid, opened = crowd
    Question.objects.filter(pk=opened.pk).update(
        status=QuestionStatus.ACCEPTED, accepted_answer=Answer.objects.get(text="no")
    )
    assert findings("A3") == [
        f"question {opened.pk} is accepted (no) but its votes ['no'] give open (None)"
    ]
    Question.objects.filter(pk=invalid.pk).update(status=QuestionStatus.OPEN)
    assert len(findings("A5")) == 1


def test_a_vote_counted_after_acceptance_breaks_a4(crowd):
    people, accepted, _, _ = crowd
    Vote.objects.create(
        question=accepted,
        annotator=people[3],
        answer=Answer.objects.get(text="no"),
        watch_session=watched(people[3], accepted.video),
    )
    assert findings("A4") == [f"question {accepted.pk}: 1 vote(s) counted after it was accepted"]


def test_a_reviewers_decision_is_not_replayed(crowd, reviewer):
    _, _, _, opened = crowd
    services.question_review(reviewer=reviewer, question=opened, action="accept", answer="no")
    assert rules_audit().violations == 0


def test_the_command_lists_violations_and_fails(crowd, settings, capsys):
    call_command("audit_rules")
    assert "no rule violations" in capsys.readouterr().out
    settings.QUESTIONS_PER_VIDEO = 1
    with pytest.raises(CommandError, match="1 rule violation"):
        call_command("audit_rules")
    assert "Q3: 1 violation(s)" in capsys.readouterr().out


def test_the_services_keep_the_stored_counts_equal_to_a_recount(crowd, video):
    _, accepted, invalid, opened = crowd
    video.refresh_from_db()
    assert video.live_questions == 2  # accepted and open; the invalid one holds no slot
    counted = {q.pk: Question.objects.get(pk=q.pk).counted_votes for q in crowd[1:]}
    assert counted == {accepted.pk: 2, invalid.pk: 2, opened.pk: 1}
    assert findings(COUNTS) == []


def test_a_count_changed_behind_the_services_is_found_and_repaired(crowd, video, capsys):
    *_, opened = crowd
    Video.objects.filter(pk=video.pk).update(live_questions=5)
    Question.objects.filter(pk=opened.pk).update(counted_votes=0)
    assert findings(COUNTS) == [
        f"video {video.pk}: live questions stored as 5, recounted 2",
        f"question {opened.pk}: counted votes stored as 0, recounted 1",
    ]
    with pytest.raises(CommandError, match=r"2 stored count\(s\) differ from a recount"):
        call_command("audit_rules")
    call_command("audit_rules", "--repair-counts")
    assert "repaired 2 stored count(s)" in capsys.readouterr().out
    assert findings(COUNTS) == []
    video.refresh_from_db()
    assert video.live_questions == 2
