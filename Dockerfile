# One image for every process of docker-compose.yml: web (gunicorn), worker, beat, gpu-worker
# and the one-shot init. torch==2.14.1 from PyPI is a CUDA build: the gpu worker uses the GPU
# when the container is given one (docker-compose.gpu.yml) and the CPU otherwise.
# PYTHON_IMAGE: any image with Python 3.11 and pip on PATH (make deploy-check builds one from
# Debian's packages where no registry is reachable).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production \
    AVQA_VAR_DIR=/var/lib/avqa \
    MEDIA_ROOT=/var/lib/avqa/media \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
RUN useradd --create-home --uid 1000 avqa \
    && mkdir -p /var/lib/avqa/media /var/lib/avqa/beat /var/lib/avqa-worker /run/avqa-secrets \
    && chown -R avqa:avqa /var/lib/avqa /var/lib/avqa-worker /run/avqa-secrets

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY --chown=avqa:avqa . .
# Static files are collected at build time; the key here only lets settings load, it signs
# nothing (the running containers get theirs from the environment).
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput \
    && rm -rf /var/lib/avqa/broker

USER avqa
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
