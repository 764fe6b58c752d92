"""Turn people and services into what the ranker and the search use.

Never imports ``vcsmatch.ranking``: rankers take features, they do not build them ad hoc.
"""
