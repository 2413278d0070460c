"""What the Airflow DAGs call: the Spark-submit operator and endpoint resolution from Connections.

Nothing here is imported at DAG-parse time except the operator class, and that imports only
Airflow and the Spark provider; settings, jars and connections are resolved inside ``execute``.
"""
