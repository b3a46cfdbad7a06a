# The team stack's Airflow image (docker-compose.yml builds it): the official Airflow 3.3.2
# image plus the project's pinned environment (Airflow providers, Cosmos, dbt, loaders' libs).
# The project's code (dags/, dbt_project/, loaders/) is bind-mounted by docker-compose.yml.
FROM apache/airflow:3.3.2-python3.11

# Install as the airflow user, as the image's documentation asks ("Adding packages from
# requirements.txt"); pinning apache-airflow to the image's own version (AIRFLOW_VERSION is
# set by the base image) keeps pip from ever changing Airflow itself.
USER airflow
COPY --chown=airflow:0 requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt

# `python -m loaders ...` and the DAGs import the bind-mounted /opt/airflow/loaders package.
ENV PYTHONPATH=/opt/airflow
