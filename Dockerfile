# One image, two commands: `tellwell serve` (the default) and `tellwell worker`.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng libespeak-ng1 ffmpeg \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 tellwell
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
CMD ["sh", "-c", "tellwell migrate && exec tellwell serve --host 0.0.0.0 --port 8000"]
