// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Kopa ledger anchor
/// @notice Public, write-once Merkle roots of Kopa's points ledger. The ledger is cut into
/// epochs; each epoch's entries are the leaves of an RFC 6962 tree (SHA-256) and its root is
/// written here once. A root can never be overwritten, so anyone holding an entry and its
/// inclusion proof can check it against `rootOf(epoch)` without trusting Kopa's database.
/// Only roots and counts are stored: no personal data.
contract KopaLedgerAnchor is AccessControl {
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");

    mapping(uint256 epoch => bytes32) private _roots;
    mapping(uint256 epoch => uint256) private _counts;

    /// @notice Epoch `epoch` already has a root; roots are written once.
    error KopaLedgerAnchorAlreadyAnchored(uint256 epoch, bytes32 root);
    /// @notice A root of zero cannot be told apart from "not anchored".
    error KopaLedgerAnchorZeroRoot(uint256 epoch);
    /// @notice An epoch without entries has no tree to anchor.
    error KopaLedgerAnchorEmptyEpoch(uint256 epoch);
    /// @notice Batch arrays differ in length.
    error KopaLedgerAnchorLengthMismatch(uint256 epochs, uint256 roots, uint256 counts);
    /// @notice The anchorer must be a different account from the admin.
    error KopaLedgerAnchorAnchorerIsAdmin();

    /// @notice The root of epoch `epoch`, a tree of `entryCount` ledger entries, was written.
    event EpochAnchored(uint256 indexed epoch, bytes32 root, uint256 entryCount);

    /// @param admin receives DEFAULT_ADMIN_ROLE; it grants and revokes the anchor role.
    /// @param anchorer receives ANCHOR_ROLE (the platform key that relays the outbox). It must
    /// differ from `admin`: the admin key stays offline, the anchorer lives on a server.
    constructor(address admin, address anchorer) {
        if (anchorer == admin) revert KopaLedgerAnchorAnchorerIsAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHOR_ROLE, anchorer);
    }

    /// @notice Writes the root of epoch `epoch`.
    /// Requirements:
    /// - caller has ANCHOR_ROLE;
    /// - `epoch` has no root yet; `root` is not zero; `entryCount` > 0.
    /// Emits {EpochAnchored}.
    function anchor(uint256 epoch, bytes32 root, uint256 entryCount) external onlyRole(ANCHOR_ROLE) {
        if (_roots[epoch] != bytes32(0)) revert KopaLedgerAnchorAlreadyAnchored(epoch, _roots[epoch]);
        _anchorOnce(epoch, root, entryCount);
    }

    /// @notice Writes every epoch that has no root yet and skips the others (their roots stay
    /// as they are), so a relay can resend a batch after a crash without writing twice.
    /// Requirements:
    /// - caller has ANCHOR_ROLE;
    /// - the three arrays have the same length; every written root is not zero and every
    ///   written count > 0.
    /// Emits {EpochAnchored} for each epoch written.
    /// @return anchoredCount how many epochs were written by this call.
    function anchorBatch(uint256[] calldata epochs, bytes32[] calldata roots, uint256[] calldata counts)
        external
        onlyRole(ANCHOR_ROLE)
        returns (uint256 anchoredCount)
    {
        if (epochs.length != roots.length || epochs.length != counts.length) {
            revert KopaLedgerAnchorLengthMismatch(epochs.length, roots.length, counts.length);
        }
        for (uint256 i = 0; i < epochs.length; ++i) {
            if (_roots[epochs[i]] != bytes32(0)) continue;
            _anchorOnce(epochs[i], roots[i], counts[i]);
            ++anchoredCount;
        }
    }

    /// @notice The root of epoch `epoch`, or zero while it is not anchored.
    function rootOf(uint256 epoch) external view returns (bytes32) {
        return _roots[epoch];
    }

    /// @notice How many ledger entries the tree of epoch `epoch` has (zero if not anchored).
    function entryCountOf(uint256 epoch) external view returns (uint256) {
        return _counts[epoch];
    }

    /// @notice Whether epoch `epoch` has a root.
    function isAnchored(uint256 epoch) external view returns (bool) {
        return _roots[epoch] != bytes32(0);
    }

    /// @notice `isAnchored` for many epochs in one call (the relay checks a whole batch at once).
    function isAnchoredBatch(uint256[] calldata epochs) external view returns (bool[] memory anchored) {
        anchored = new bool[](epochs.length);
        for (uint256 i = 0; i < epochs.length; ++i) {
            anchored[i] = _roots[epochs[i]] != bytes32(0);
        }
    }

    function _anchorOnce(uint256 epoch, bytes32 root, uint256 entryCount) private {
        if (root == bytes32(0)) revert KopaLedgerAnchorZeroRoot(epoch);
        if (entryCount == 0) revert KopaLedgerAnchorEmptyEpoch(epoch);
        _roots[epoch] = root;
        _counts[epoch] = entryCount;
        emit EpochAnchored(epoch, root, entryCount);
    }
}
