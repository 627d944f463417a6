"""Community domain: accounts and roles, co-creation processes, tasks, contributions.

No Flask and no web3 here: the web layer parses input and calls these services.
"""
