// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Pausable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Pausable.sol";

/// @title Kopa credits
/// @notice Earned, spendable community credits: one credit is one validated point.
/// Every mint and every redemption carries a `ref` (the hash of the ledger entry that
/// caused it) and each ref can be used once, so a relay that retries can never mint
/// or burn the same entry twice. Credits are not transferable between members.
/// The once-per-ref guard is a bitmap: ref r is bit (r mod 256) of word (r / 256). Any bytes32
/// is a valid ref; refs that differ only in their last byte share one storage word, so refs
/// numbered consecutively (an installation tag above a ledger entry id) cost ~0.5k gas each
/// after the first of every 256, where a scattered ref (a hash) pays for a fresh slot (22.1k).
contract KopaCredits is ERC20, ERC20Pausable, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");
    bytes32 public constant BURNER_ROLE = keccak256("BURNER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    mapping(uint256 word => uint256 bits) private _minted;
    mapping(uint256 word => uint256 bits) private _redeemed;

    /// @notice Credits cannot move between holders; only mint and redeem change balances.
    error KopaCreditsTransferDisabled(address from, address to);
    /// @notice The ledger entry `ref` was already minted.
    error KopaCreditsAlreadyMinted(bytes32 ref);
    /// @notice The ledger entry `ref` was already redeemed.
    error KopaCreditsAlreadyRedeemed(bytes32 ref);
    /// @notice Batch arrays differ in length.
    error KopaCreditsLengthMismatch(uint256 recipients, uint256 amounts, uint256 refs);
    /// @notice A mint or redemption of zero credits is never meaningful.
    error KopaCreditsZeroAmount(bytes32 ref);

    /// @notice `amount` credits were minted to `to` for the ledger entry `ref`.
    event RewardMinted(address indexed to, uint256 amount, bytes32 indexed ref);
    /// @notice `amount` credits of `from` were burned for the ledger entry `ref`.
    event CreditsRedeemed(address indexed from, uint256 amount, bytes32 indexed ref);

    /// @param admin receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE; it grants the other roles.
    constructor(address admin) ERC20("Kopa Credits", "KOPA") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
    }

    /// @notice Credits are whole points.
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @notice Mints `amount` credits to `to` for the ledger entry `ref`.
    /// Requirements:
    /// - caller has MINTER_ROLE; the contract is not paused;
    /// - `ref` was never minted; `amount` > 0; `to` is not the zero address.
    /// Emits {Transfer} and {RewardMinted}.
    function mint(address to, uint256 amount, bytes32 ref) external onlyRole(MINTER_ROLE) {
        if (!_use(_minted, ref)) revert KopaCreditsAlreadyMinted(ref);
        _mintOnce(to, amount, ref);
    }

    /// @notice Mints every entry whose ref was not minted yet and skips the others, so a
    /// relay can resend a batch after a crash without minting anything twice.
    /// Requirements:
    /// - caller has MINTER_ROLE; the contract is not paused;
    /// - the three arrays have the same length; every amount > 0.
    /// Emits {Transfer} and {RewardMinted} for each entry minted.
    /// @return mintedCount how many entries were minted by this call.
    function mintBatch(address[] calldata to, uint256[] calldata amounts, bytes32[] calldata refs)
        external
        onlyRole(MINTER_ROLE)
        returns (uint256 mintedCount)
    {
        if (to.length != amounts.length || to.length != refs.length) {
            revert KopaCreditsLengthMismatch(to.length, amounts.length, refs.length);
        }
        for (uint256 i = 0; i < to.length; ++i) {
            if (!_use(_minted, refs[i])) continue;
            _mintOnce(to[i], amounts[i], refs[i]);
            unchecked { ++mintedCount; } // at most to.length
        }
    }

    /// @notice Burns `amount` credits of `from` for the ledger entry `ref` (a redemption).
    /// Requirements:
    /// - caller has BURNER_ROLE; the contract is not paused;
    /// - `ref` was never redeemed; `amount` > 0; `from` holds at least `amount`.
    /// Emits {Transfer} and {CreditsRedeemed}.
    function redeem(address from, uint256 amount, bytes32 ref) external onlyRole(BURNER_ROLE) {
        if (!_use(_redeemed, ref)) revert KopaCreditsAlreadyRedeemed(ref);
        _redeemOnce(from, amount, ref);
    }

    /// @notice Redeems every entry whose ref was not redeemed yet and skips the others, so a
    /// relay can resend a batch after a crash without burning anything twice. The batch is
    /// all or nothing: one failing entry (zero amount, short balance) reverts every burn.
    /// Requirements:
    /// - caller has BURNER_ROLE; the contract is not paused;
    /// - the three arrays have the same length; every amount > 0;
    /// - each `from` holds enough for all of its entries redeemed by this call.
    /// Emits {Transfer} and {CreditsRedeemed} for each entry redeemed.
    /// @return redeemedCount how many entries were redeemed by this call.
    function redeemBatch(address[] calldata from, uint256[] calldata amounts, bytes32[] calldata refs)
        external
        onlyRole(BURNER_ROLE)
        returns (uint256 redeemedCount)
    {
        if (from.length != amounts.length || from.length != refs.length) {
            revert KopaCreditsLengthMismatch(from.length, amounts.length, refs.length);
        }
        for (uint256 i = 0; i < from.length; ++i) {
            if (!_use(_redeemed, refs[i])) continue;
            _redeemOnce(from[i], amounts[i], refs[i]);
            unchecked { ++redeemedCount; } // at most from.length
        }
    }

    /// @notice Stops every mint and redemption. Requirements: caller has PAUSER_ROLE.
    /// Emits {Paused}.
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @notice Resumes mints and redemptions. Requirements: caller has PAUSER_ROLE.
    /// Emits {Unpaused}.
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice Whether the ledger entry `ref` has been minted.
    function isMinted(bytes32 ref) external view returns (bool) {
        return _isUsed(_minted, ref);
    }

    /// @notice `isMinted` for many refs in one call (the relay checks a whole batch at once).
    function isMintedBatch(bytes32[] calldata refs) external view returns (bool[] memory minted) {
        minted = new bool[](refs.length);
        for (uint256 i = 0; i < refs.length; ++i) {
            minted[i] = _isUsed(_minted, refs[i]);
        }
    }

    /// @notice Whether the ledger entry `ref` has been redeemed.
    function isRedeemed(bytes32 ref) external view returns (bool) {
        return _isUsed(_redeemed, ref);
    }

    /// @notice `isRedeemed` for many refs in one call (the relay checks a whole batch at once).
    function isRedeemedBatch(bytes32[] calldata refs) external view returns (bool[] memory redeemed) {
        redeemed = new bool[](refs.length);
        for (uint256 i = 0; i < refs.length; ++i) {
            redeemed[i] = _isUsed(_redeemed, refs[i]);
        }
    }

    function _isUsed(mapping(uint256 => uint256) storage bitmap, bytes32 ref) private view returns (bool) {
        return bitmap[uint256(ref) >> 8] & (1 << (uint256(ref) & 0xff)) != 0;
    }

    /// @dev Marks `ref` used and returns true, or returns false if it already was: the check and
    /// the mark share one read of the word. A call that reverts later (zero amount, short
    /// balance) undoes the mark with everything else.
    function _use(mapping(uint256 => uint256) storage bitmap, bytes32 ref) private returns (bool) {
        uint256 bit = 1 << (uint256(ref) & 0xff);
        uint256 bits = bitmap[uint256(ref) >> 8];
        if (bits & bit != 0) return false;
        bitmap[uint256(ref) >> 8] = bits | bit;
        return true;
    }

    function _mintOnce(address to, uint256 amount, bytes32 ref) private {
        if (amount == 0) revert KopaCreditsZeroAmount(ref);
        _mint(to, amount);
        emit RewardMinted(to, amount, ref);
    }

    function _redeemOnce(address from, uint256 amount, bytes32 ref) private {
        if (amount == 0) revert KopaCreditsZeroAmount(ref);
        _burn(from, amount);
        emit CreditsRedeemed(from, amount, ref);
    }

    /// @dev Only mints (from zero) and burns (to zero) may change balances.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Pausable) {
        if (from != address(0) && to != address(0)) revert KopaCreditsTransferDisabled(from, to);
        super._update(from, to, value);
    }
}
