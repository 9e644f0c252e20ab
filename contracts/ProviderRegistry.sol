// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";

/// @title Provider registry module
/// @notice The admin (DEFAULT_ADMIN_ROLE) appoints registrars; registrars credential providers.
abstract contract ProviderRegistry is AccessControl, IProviderRegistry {
    bytes32 public constant REGISTRAR_ROLE = keccak256("medledger.REGISTRAR");

    mapping(address account => Provider) private _providers;

    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @inheritdoc IProviderRegistry
    function registerProvider(address provider, ProviderKind kind) external onlyRole(REGISTRAR_ROLE) {
        if (provider == address(0)) revert ZeroAddress();
        if (kind == ProviderKind.None) revert InvalidProviderKind(uint8(kind));
        if (_providers[provider].status != ProviderStatus.None) revert ProviderAlreadyRegistered(provider);
        _providers[provider] = Provider(kind, ProviderStatus.Active, uint40(block.timestamp));
        emit ProviderRegistered(provider, kind, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function suspendProvider(address provider) external onlyRole(REGISTRAR_ROLE) {
        Provider storage entry = _registered(provider);
        if (entry.status != ProviderStatus.Active) revert ProviderNotActive(provider);
        entry.status = ProviderStatus.Suspended;
        entry.since = uint40(block.timestamp);
        emit ProviderSuspended(provider, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function reinstateProvider(address provider) external onlyRole(REGISTRAR_ROLE) {
        Provider storage entry = _registered(provider);
        if (entry.status != ProviderStatus.Suspended) revert ProviderNotSuspended(provider);
        entry.status = ProviderStatus.Active;
        entry.since = uint40(block.timestamp);
        emit ProviderReinstated(provider, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function providerOf(address account) external view returns (Provider memory) {
        return _providers[account];
    }

    /// @inheritdoc IProviderRegistry
    function isActiveProvider(address account) public view returns (bool) {
        return _providers[account].status == ProviderStatus.Active;
    }

    function _provider(address account) internal view returns (Provider memory) {
        return _providers[account];
    }

    /// @dev Reverts unless `provider` is an active provider (a grant needs one).
    function _requireActiveProvider(address provider) internal view {
        ProviderStatus status = _providers[provider].status;
        if (status == ProviderStatus.None) revert UnknownProvider(provider);
        if (status != ProviderStatus.Active) revert ProviderNotActive(provider);
    }

    function _registered(address provider) private view returns (Provider storage entry) {
        entry = _providers[provider];
        if (entry.status == ProviderStatus.None) revert UnknownProvider(provider);
    }
}
