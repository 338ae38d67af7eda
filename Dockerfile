FROM python:3.11.11-slim-bookworm
WORKDIR /app
COPY pyproject.toml README.md ./
COPY stream_app ./stream_app
COPY schemas ./schemas
RUN pip install --no-cache-dir .
USER 65534
EXPOSE 9108
ENTRYPOINT ["stream-app"]
CMD ["worker"]
