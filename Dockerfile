FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
COPY config ./config
COPY support ./support
COPY scheduler ./scheduler
COPY api ./api
RUN pip install --no-cache-dir .
COPY . .
# With DEBUG off, as the containers run: the manifest storage (hashed names) that they serve from.
RUN DEBUG=0 SECRET_KEY=build-only FIELD_ENCRYPTION_KEYS=$(python -c "import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())") python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
