"""Fetching articles, downloading videos, ffmpeg, faster-whisper and the Celery tasks."""
