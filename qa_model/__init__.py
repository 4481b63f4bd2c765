"""The ML library: MUSIC-AVQA catalogue, media helpers and (later) features and AVST.

Plain Python, NumPy, PyTorch and PyAV. It never imports Django.
"""
