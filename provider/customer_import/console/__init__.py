"""The operator's console: a FastAPI app the provider's Airflow plugin mounts at ``/customer-imports``.

``app.create_app`` builds it; ``api`` holds the JSON API (PRODUCT.md "The operator's console"), ``access``
the checks through Airflow's auth manager, ``airflow_state`` what is read from Airflow's metadata
database, ``pages`` the server-rendered pages shown inside the Airflow UI.
"""
