// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";
import {ProviderStore} from "./ProviderStore.sol";
import {Roles} from "./Roles.sol";

/// @title Provider registry module
/// @notice The admin (DEFAULT_ADMIN_ROLE) appoints registrars; registrars credential providers.
/// Registration and reinstatement stop while paused; suspension and withdrawal never do. A member
/// of a key-release service set is never registered (a service that could also read as a
/// provider would check its own access), as the service-set module never seats a provider.
abstract contract ProviderRegistry is Roles, ProviderStore, IProviderRegistry {
    /// @inheritdoc IProviderRegistry
    function registerProvider(address provider, ProviderKind kind) external onlyRole(REGISTRAR_ROLE) whenNotPaused {
        if (provider == address(0)) revert ZeroAddress();
        if (kind == ProviderKind.None) revert InvalidProviderKind(uint8(kind));
        ProviderStatus status = _providers[provider].status;
        if (status == ProviderStatus.Withdrawn) revert ProviderIsWithdrawn(provider);
        if (status != ProviderStatus.None) revert ProviderAlreadyRegistered(provider);
        if (_holdsServiceSeat(provider)) revert ServiceMemberMayNotBeProvider(provider);
        _providers[provider] = Provider(kind, ProviderStatus.Active, uint40(block.timestamp), 1);
        emit ProviderRegistered(provider, kind, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function suspendProvider(address provider) external onlyRole(REGISTRAR_ROLE) {
        Provider storage entry = _registered(provider);
        if (entry.status != ProviderStatus.Active) revert ProviderNotActive(provider);
        entry.status = ProviderStatus.Suspended;
        entry.since = uint40(block.timestamp);
        entry.epoch += 1;
        emit ProviderSuspended(provider, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function reinstateProvider(address provider) external onlyRole(REGISTRAR_ROLE) whenNotPaused {
        Provider storage entry = _registered(provider);
        if (entry.status == ProviderStatus.Withdrawn) revert ProviderIsWithdrawn(provider);
        if (entry.status != ProviderStatus.Suspended) revert ProviderNotSuspended(provider);
        entry.status = ProviderStatus.Active;
        entry.since = uint40(block.timestamp);
        entry.epoch += 1;
        emit ProviderReinstated(provider, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function withdrawProvider(address provider) external onlyRole(REGISTRAR_ROLE) {
        Provider storage entry = _registered(provider);
        if (entry.status == ProviderStatus.Withdrawn) revert ProviderIsWithdrawn(provider);
        entry.status = ProviderStatus.Withdrawn;
        entry.since = uint40(block.timestamp);
        entry.epoch += 1;
        emit ProviderWithdrawn(provider, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function setProviderKind(address provider, ProviderKind kind) external onlyRole(REGISTRAR_ROLE) {
        if (kind == ProviderKind.None) revert InvalidProviderKind(uint8(kind));
        Provider storage entry = _registered(provider);
        if (entry.status == ProviderStatus.Withdrawn) revert ProviderIsWithdrawn(provider);
        if (entry.kind == kind) revert ProviderKindUnchanged(provider, uint8(kind));
        entry.kind = kind;
        // A new credential: break-glass windows opened under the old kind end (see EmergencyAccess).
        entry.since = uint40(block.timestamp);
        entry.epoch += 1;
        emit ProviderKindSet(provider, kind, msg.sender);
    }

    /// @inheritdoc IProviderRegistry
    function providerOf(address account) external view returns (Provider memory) {
        return _providers[account];
    }

    /// @inheritdoc IProviderRegistry
    function isActiveProvider(address account) external view returns (bool) {
        return _isActiveProvider(account);
    }

    function _registered(address provider) private view returns (Provider storage entry) {
        entry = _providers[provider];
        if (entry.status == ProviderStatus.None) revert UnknownProvider(provider);
    }
}
