# One image for every role: `tellwell serve` (the default), `tellwell worker`, `tellwell
# migrate`. docker-compose.yml runs migrate once, then the API and the workers.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng libespeak-ng1 ffmpeg \
 && rm -rf /var/lib/apt/lists/*

# The data directory belongs to the user the service runs as; a new named volume
# mounted there takes this owner, so the service can write its audio and key.
RUN useradd --create-home --uid 10001 tellwell \
 && mkdir /data \
 && chown tellwell:tellwell /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY voices ./voices
COPY templates ./templates
COPY workers ./workers
RUN pip install --no-cache-dir .

USER tellwell
ENV TELLWELL_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
# For the API (the default command); docker-compose.yml gives the worker its own check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["tellwell", "serve", "--host", "0.0.0.0", "--port", "8000"]
