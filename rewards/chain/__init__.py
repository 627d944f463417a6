"""The only place that talks to an EVM chain (web3); the rest of Kopa stays chain-agnostic."""
