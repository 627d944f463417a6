// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC1155Pausable} from "@openzeppelin/contracts/token/ERC1155/extensions/ERC1155Pausable.sol";

/// @title Kopa badges
/// @notice Soulbound achievement badges: each badge level is a token id and a member holds at
/// most one of each. Every mint carries a `ref` (the hash of the ledger entry that earned the
/// badge) and each ref can be used once, so a relay that retries can never mint twice.
/// Badges never move: no transfers between holders and no operator approvals. The chain
/// holds only addresses, token ids and refs, never personal data.
contract KopaBadges is ERC1155, ERC1155Pausable, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    mapping(bytes32 ref => bool) private _minted;

    /// @notice Badges cannot move between holders; only mints change balances.
    error KopaBadgesTransferDisabled(address from, address to);
    /// @notice Operator approvals are refused: with no transfers there is nothing to approve.
    error KopaBadgesApprovalDisabled();
    /// @notice The ledger entry `ref` was already minted.
    error KopaBadgesAlreadyMinted(bytes32 ref);
    /// @notice `to` already holds badge `id`; a member holds at most one of each.
    error KopaBadgesAlreadyHeld(address to, uint256 id);
    /// @notice Batch arrays differ in length.
    error KopaBadgesLengthMismatch(uint256 recipients, uint256 ids, uint256 refs);
    /// @notice The minter must be a different account from the admin.
    error KopaBadgesMinterIsAdmin();

    /// @notice Badge `id` was minted to `to` for the ledger entry `ref`.
    event BadgeMinted(address indexed to, uint256 indexed id, bytes32 indexed ref);

    /// @param admin receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE; it grants the other roles.
    /// @param minter receives MINTER_ROLE. It must differ from `admin`: the admin key can
    /// grant roles and pause, so it stays offline, while the minter key lives on a server.
    /// @param uri_ the ERC-1155 metadata URI template (with `{id}`); it must hold no personal data.
    constructor(address admin, address minter, string memory uri_) ERC1155(uri_) {
        if (minter == admin) revert KopaBadgesMinterIsAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _grantRole(MINTER_ROLE, minter);
    }

    /// @notice Mints badge `id` to `to` for the ledger entry `ref`.
    /// Requirements:
    /// - caller has MINTER_ROLE; the contract is not paused;
    /// - `ref` was never minted; `to` does not hold `id` yet; `to` is not the zero address;
    /// - if `to` is a contract, it accepts ERC-1155 tokens.
    /// Emits {TransferSingle} and {BadgeMinted}.
    function mintBadge(address to, uint256 id, bytes32 ref) external onlyRole(MINTER_ROLE) {
        if (_minted[ref]) revert KopaBadgesAlreadyMinted(ref);
        if (balanceOf(to, id) != 0) revert KopaBadgesAlreadyHeld(to, id);
        _mintOnce(to, id, ref);
    }

    /// @notice Mints every entry whose ref was not minted yet and whose badge the recipient
    /// does not hold yet, and skips the others, so a relay can resend a batch after a crash
    /// without minting anything twice. A skipped entry's ref stays unminted.
    /// Requirements:
    /// - caller has MINTER_ROLE; the contract is not paused;
    /// - the three arrays have the same length; no minted recipient is the zero address;
    /// - every minted recipient that is a contract accepts ERC-1155 tokens.
    /// Emits {TransferSingle} and {BadgeMinted} for each entry minted.
    /// @return mintedCount how many entries were minted by this call.
    function mintBadgeBatch(address[] calldata to, uint256[] calldata ids, bytes32[] calldata refs)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 mintedCount)
    {
        if (to.length != ids.length || to.length != refs.length) {
            revert KopaBadgesLengthMismatch(to.length, ids.length, refs.length);
        }
        for (uint256 i = 0; i < to.length; ++i) {
            if (_minted[refs[i]] || balanceOf(to[i], ids[i]) != 0) continue;
            _mintOnce(to[i], ids[i], refs[i]);
            ++mintedCount;
        }
    }

    /// @notice Stops every mint. Requirements: caller has PAUSER_ROLE. Emits {Paused}.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes mints. Requirements: caller has PAUSER_ROLE. Emits {Unpaused}.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice Whether the ledger entry `ref` has been minted.
    function isMinted(bytes32 ref) external view returns (bool) {
        return _minted[ref];
    }

    /// @notice `isMinted` for many refs in one call (the relay checks a whole batch at once).
    function isMintedBatch(bytes32[] calldata refs) external view returns (bool[] memory minted) {
        minted = new bool[](refs.length);
        for (uint256 i = 0; i < refs.length; ++i) {
            minted[i] = _minted[refs[i]];
        }
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC1155, AccessControl) returns (bool) {
        return super.supportsInterface(interfaceId);
    }

    /// @dev The ref is marked before `_mint`, whose acceptance check calls into a contract
    /// recipient (checks-effects-interactions).
    function _mintOnce(address to, uint256 id, bytes32 ref) private {
        _minted[ref] = true;
        _mint(to, id, 1, "");
        emit BadgeMinted(to, id, ref);
    }

    /// @dev Only mints (from zero) may change balances; there is no burn function, so every
    /// other update is a transfer between holders.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        override(ERC1155, ERC1155Pausable)
    {
        if (from != address(0)) revert KopaBadgesTransferDisabled(from, to);
        super._update(from, to, ids, values);
    }

    /// @dev Refuses every `setApprovalForAll`, granting or revoking: an operator could never
    /// move a badge anyway, and a standing approval would only mislead wallets and markets.
    function _setApprovalForAll(address, address, bool) internal pure override {
        revert KopaBadgesApprovalDisabled();
    }
}
