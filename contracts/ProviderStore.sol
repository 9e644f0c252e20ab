// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "../interfaces/IMedLedgerErrors.sol";
import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";

/// @title Provider state shared by the modules that check a provider's credential
/// @notice Holds the registry entries; ProviderRegistry changes them, the other modules read them.
abstract contract ProviderStore is IMedLedgerErrors {
    mapping(address account => IProviderRegistry.Provider) internal _providers;

    function _provider(address account) internal view returns (IProviderRegistry.Provider memory) {
        return _providers[account];
    }

    function _isActiveProvider(address account) internal view returns (bool) {
        // An enum comparison, not a balance or a time: strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        return _providers[account].status == IProviderRegistry.ProviderStatus.Active;
    }

    /// @dev Registered and not active: suspended or withdrawn.
    function _isInactiveProvider(address account) internal view returns (bool) {
        IProviderRegistry.ProviderStatus status = _providers[account].status;
        return status != IProviderRegistry.ProviderStatus.None && status != IProviderRegistry.ProviderStatus.Active;
    }

    /// @dev Reverts unless `provider` is an active provider (a grant needs one).
    function _requireActiveProvider(address provider) internal view {
        IProviderRegistry.ProviderStatus status = _providers[provider].status;
        // An enum comparison, not a balance or a time: strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        if (status == IProviderRegistry.ProviderStatus.None) revert IProviderRegistry.UnknownProvider(provider);
        if (status != IProviderRegistry.ProviderStatus.Active) revert IProviderRegistry.ProviderNotActive(provider);
    }
}
