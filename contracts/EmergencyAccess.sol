// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IEmergencyAccess} from "../interfaces/IEmergencyAccess.sol";
import {Guardians} from "./Guardians.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {Scopes} from "./Scopes.sol";

/// @title Break-glass module
/// @notice The window, the provider kinds allowed and the default categories are fixed at
/// deployment: no one can widen emergency access afterwards.
abstract contract EmergencyAccess is ProviderRegistry, Guardians, IEmergencyAccess {
    /// @notice Holds the emergency key service's role: it re-seals emergency keyrings to a
    /// provider whose break-glass is open (see README, "Emergency keys").
    bytes32 public constant EMERGENCY_KEY_SERVICE_ROLE = keccak256("medledger.EMERGENCY_KEY_SERVICE");
    uint8 internal constant MAX_REASON = 4;

    /// @notice How long one break-glass opening lasts, in seconds.
    uint32 public immutable emergencyWindow;
    /// @notice Bit k set: providers of ProviderKind k may break glass.
    uint8 public immutable emergencyKinds;
    /// @notice The categories break-glass opens for patients who did not choose their own.
    uint64 public immutable defaultEmergencyCategories;

    struct EmergencyPreferences {
        bool optedOut;
        uint64 categories;
    }

    mapping(address patient => EmergencyPreferences) private _preferences;
    mapping(address patient => mapping(address provider => uint40 until)) private _emergencyUntil;

    constructor(uint32 window, uint8 kinds, uint64 defaultCategories) {
        emergencyWindow = window;
        emergencyKinds = kinds;
        defaultEmergencyCategories = defaultCategories;
    }

    /// @inheritdoc IEmergencyAccess
    function breakGlass(address patient, uint8 reason) external {
        if (patient == address(0)) revert ZeroAddress();
        if (reason == 0 || reason > MAX_REASON) revert InvalidReason(reason);
        Provider memory provider = _provider(msg.sender);
        if (provider.status == ProviderStatus.None) revert UnknownProvider(msg.sender);
        if (provider.status != ProviderStatus.Active) revert ProviderNotActive(msg.sender);
        if ((emergencyKinds >> uint8(provider.kind)) & 1 == 0) revert ProviderKindNotAllowed(msg.sender, uint8(provider.kind));
        if (_preferences[patient].optedOut) revert EmergencyOptOut(patient);
        uint40 until = uint40(block.timestamp + emergencyWindow);
        _emergencyUntil[patient][msg.sender] = until;
        emit EmergencyAccessOpened(patient, msg.sender, reason, until);
    }

    /// @inheritdoc IEmergencyAccess
    function closeEmergencyAccess(address patient, address provider) external {
        if (msg.sender != provider) _requirePatientOrGuardian(patient);
        if (_emergencyUntil[patient][provider] <= block.timestamp) revert NoEmergencyAccess(patient, provider);
        delete _emergencyUntil[patient][provider];
        emit EmergencyAccessClosed(patient, provider, msg.sender);
    }

    /// @inheritdoc IEmergencyAccess
    function setEmergencyPreferences(bool optOut, uint64 categories) external {
        _preferences[msg.sender] = EmergencyPreferences(optOut, categories);
        emit EmergencyPreferencesSet(msg.sender, optOut, categories);
    }

    /// @inheritdoc IEmergencyAccess
    function releaseEmergencyKeys(address patient, address provider, bytes calldata envelope)
        external
        onlyRole(EMERGENCY_KEY_SERVICE_ROLE)
    {
        // Keys go only where access is open now: not after the window, an opt-out or a suspension.
        if (!_emergencyOpen(patient, provider)) revert NoEmergencyAccess(patient, provider);
        emit EmergencyKeysReleased(patient, provider, envelope);
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyAccessUntil(address patient, address provider) external view returns (uint40) {
        return _emergencyUntil[patient][provider];
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyPreferencesOf(address patient) public view returns (bool optedOut, uint64 categories) {
        EmergencyPreferences memory preferences = _preferences[patient];
        return (preferences.optedOut,
            preferences.categories == 0 ? defaultEmergencyCategories : preferences.categories);
    }

    /// @dev Open break-glass covers `category` (reading for ETREAT is checked by the caller).
    function _emergencyCovers(address patient, address provider, uint8 category) internal view returns (bool) {
        if (!_emergencyOpen(patient, provider)) return false;
        (, uint64 categories) = emergencyPreferencesOf(patient);
        return (categories >> category) & 1 == 1;
    }

    /// @dev Break-glass by `provider` is open: within its window, the patient has not opted out
    /// since, and the provider is still active.
    function _emergencyOpen(address patient, address provider) private view returns (bool) {
        return _emergencyUntil[patient][provider] > block.timestamp && !_preferences[patient].optedOut
            && isActiveProvider(provider);
    }
}
