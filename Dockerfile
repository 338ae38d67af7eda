FROM python:3.11.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY pyproject.toml README.md requirements-runtime.lock ./
COPY stream_app ./stream_app
COPY schemas ./schemas
# The tested versions, hash-checked; then the project without resolving anything again.
# Faust creates its data directory ("<app id>-data") in the working directory at start, even with
# the in-memory store: run from a directory the unprivileged user owns.
RUN pip install --no-cache-dir --require-hashes -r requirements-runtime.lock \
    && pip install --no-cache-dir --no-deps . && install -d -o 65534 -g 65534 /var/lib/isales
WORKDIR /var/lib/isales
USER 65534
EXPOSE 9108
ENTRYPOINT ["stream-app"]
CMD ["worker"]
