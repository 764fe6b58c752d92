"""The store: catalogue versions, ratings log, recommendation log, model registry, API keys,
audit log and the person-key secret, on SQLite (default) or PostgreSQL.

Import the concept's module and call its functions with a ``Session``::

    from vcsmatch.store import db, ratings_log
    factory = db.open_store(get_settings())
    with factory() as session:
        ratings_log.count_ratings(session)
"""
