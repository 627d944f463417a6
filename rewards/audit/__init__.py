"""The auditor's view of the ledger: canonical entries, epochs and their Merkle proofs, the
ledger explorer, validator statistics, exports, the hash-chained audit log and GDPR erasure.

Nothing here talks to the chain; reading balances, replaying events and signing exports
live in ``rewards.chain.audit``.

Modules: ``canonical`` (a ledger row's leaf, byte for byte), ``epochs`` (closing epochs,
roots and proofs), ``explorer`` (the ledger as auditors and members page through it),
``validators`` (validator statistics), ``exports`` (signed ledger exports), ``actions`` (the
hash-chained audit log), ``erasure`` (GDPR erasure), ``reconcile`` (the database side of
reconciliation) and ``access`` (who reads what).
"""
