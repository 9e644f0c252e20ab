// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {
    AccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IRoles} from "../interfaces/IRoles.sol";

/// @title Roles module: delayed two-step admin, separated duties, circuit breaker
/// @notice The admin is transferred only in two steps after `defaultAdminDelay()` (OpenZeppelin
/// AccessControlDefaultAdminRules) and can never be renounced. Each duty role sits on its own
/// account; `_holdsServiceSeat` keeps key-release service members off all of them (and, in
/// ProviderRegistry, off the provider registry).
abstract contract Roles is AccessControlDefaultAdminRules, Pausable, IRoles {
    bytes32 public constant REGISTRAR_ROLE = keccak256("medledger.REGISTRAR");
    bytes32 public constant PAUSER_ROLE = keccak256("medledger.PAUSER");
    /// @notice The longest admin delay (admin transfer, service-set activation) that may be set.
    uint48 internal constant MAX_ADMIN_DELAY = 30 days;

    /// @param initialDelay seconds between proposing and completing an admin transfer (1 s .. 30 days).
    /// @param admin the first admin (non-zero).
    constructor(uint48 initialDelay, address admin) AccessControlDefaultAdminRules(initialDelay, admin) {
        _checkAdminDelay(initialDelay);
    }

    /// @inheritdoc IRoles
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    /// @inheritdoc IRoles
    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    /// @notice An admin transfer to the zero address (a renunciation) is refused: the admin
    /// can only be handed over, never abandoned.
    function beginDefaultAdminTransfer(address newAdmin) public override {
        if (newAdmin == address(0)) revert ZeroAddress();
        super.beginDefaultAdminTransfer(newAdmin);
    }

    /// @notice Changes the admin delay, within 1 second .. MAX_ADMIN_DELAY.
    function changeDefaultAdminDelay(uint48 newDelay) public override {
        _checkAdminDelay(newDelay);
        super.changeDefaultAdminDelay(newDelay);
    }

    /// @dev Enforces the separation of duties on every grant, the admin transfer's included.
    function _grantRole(bytes32 role, address account) internal virtual override returns (bool) {
        if (!hasRole(role, account)) {
            _requireNoOtherDuty(account, role, DEFAULT_ADMIN_ROLE);
            _requireNoOtherDuty(account, role, REGISTRAR_ROLE);
            _requireNoOtherDuty(account, role, PAUSER_ROLE);
            // No service set exists while this contract is being constructed (no code yet).
            if (address(this).code.length != 0 && _holdsServiceSeat(account)) {
                revert ServiceMemberMayNotHoldRole(account, role);
            }
        }
        return super._grantRole(role, account);
    }

    /// @dev Whether `account` is a member of a key-release service set that is not cancelled.
    function _holdsServiceSeat(address account) internal view virtual returns (bool);

    function _requireNoOtherDuty(address account, bytes32 role, bytes32 duty) private view {
        if (duty != role && hasRole(duty, account)) revert ConflictingDuties(account, role, duty);
    }

    function _checkAdminDelay(uint48 delay) private pure {
        if (delay == 0 || delay > MAX_ADMIN_DELAY) revert InvalidAdminDelay(delay);
    }
}
