"""The local cluster's settings file and Airflow's Celery settings (pure; the processes
themselves are `make test-cluster`)."""

from __future__ import annotations

import tomllib

from infra.cluster import (
    AIRFLOW_DATABASE,
    BROKER_DB,
    CELERY_EXECUTOR,
    _toml,
    _with_database,
    airflow_celery_env,
)

DSN = "postgresql://postgres:@/fyplake?host=/tmp/x/services/postgres"


def test_the_settings_file_is_toml_the_settings_read():
    values = {
        "lake": "s3://fyp-lake/lake",
        "spark_shuffle_partitions": 4,
        "spark_conf": {"spark.driver.host": "127.0.0.1", "spark.executor.memory": "1g"},
    }
    assert tomllib.loads(_toml(values)) == values


def test_airflow_gets_its_own_database_and_valkey_db_for_the_broker():
    env = airflow_celery_env(DSN, "redis://127.0.0.1:6399/0", 8123)
    assert env["AIRFLOW__CORE__EXECUTOR"] == CELERY_EXECUTOR
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert (
        conn == f"postgresql+psycopg://postgres:@/{AIRFLOW_DATABASE}?host=/tmp/x/services/postgres"
    )
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith(
        "postgresql+psycopg_async://"
    )
    assert env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://127.0.0.1:6399/{BROKER_DB}"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + conn
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8123/execution/"
    assert _with_database("postgresql://u:p@h:5432/app", "airflow") == (
        "postgresql+psycopg://u:p@h:5432/airflow"
    )
