// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IEmergencyAccess} from "../interfaces/IEmergencyAccess.sol";
import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";
import {Guardians} from "./Guardians.sol";
import {Roles} from "./Roles.sol";

// slither-disable-start timestamp
// Break-glass windows and cool-downs last hours to days; a validator's ~15 s drift is irrelevant.
/// @title Break-glass module
/// @notice The window, cool-down, provider kinds allowed and default categories are fixed at
/// deployment: no one can widen emergency access afterwards. A window counts only while the
/// provider's credential is the one it was opened under (same epoch) and it is younger than the patient's
/// last opt-out.
abstract contract EmergencyAccess is Roles, Guardians, IEmergencyAccess {
    uint8 internal constant MAX_REASON = 4;
    /// @notice The longest break-glass window a deployment may choose.
    uint32 internal constant MAX_EMERGENCY_WINDOW = 7 days;
    /// @notice The longest cool-down a deployment may choose.
    uint32 internal constant MAX_EMERGENCY_COOLDOWN = 30 days;
    /// @dev ProviderKind values 1..5 (Clinician .. Auditor).
    uint8 internal constant VALID_KINDS = 0x3e;

    /// @notice How long one break-glass opening lasts, in seconds.
    uint32 public immutable emergencyWindow;
    /// @notice How long a provider must wait to break glass again on a patient after the patient
    /// or a guardian closed its window, in seconds.
    uint32 public immutable emergencyCooldown;
    /// @notice Bit k set: providers of ProviderKind k may break glass.
    uint8 public immutable emergencyKinds;
    /// @notice The categories break-glass opens for patients who did not choose their own.
    uint64 public immutable defaultEmergencyCategories;

    /// @dev `optedOutAt`: the patient's latest opt-out; windows opened until then never count.
    struct EmergencyPreferences {
        bool optedOut;
        uint64 categories;
        uint40 optedOutAt;
    }

    mapping(address patient => EmergencyPreferences) private _preferences;
    mapping(address patient => mapping(address provider => EmergencyWindow)) private _windows;

    constructor(uint32 window, uint32 cooldown, uint8 kinds, uint64 defaultCategories) {
        if (window == 0 || window > MAX_EMERGENCY_WINDOW) revert InvalidEmergencyWindow(window);
        if (cooldown == 0 || cooldown > MAX_EMERGENCY_COOLDOWN) revert InvalidEmergencyCooldown(cooldown);
        if (kinds & ~VALID_KINDS != 0) revert InvalidEmergencyKinds(kinds);
        if (defaultCategories == 0) revert EmptyEmergencyCategories();
        emergencyWindow = window;
        emergencyCooldown = cooldown;
        emergencyKinds = kinds;
        defaultEmergencyCategories = defaultCategories;
    }

    /// @inheritdoc IEmergencyAccess
    function breakGlass(address patient, uint8 reason) external whenNotPaused {
        if (patient == address(0)) revert ZeroAddress();
        if (reason == 0 || reason > MAX_REASON) revert InvalidReason(reason);
        IProviderRegistry.Provider memory provider = _provider(msg.sender);
        _requireActiveProvider(msg.sender);
        // A bit test on a mask, not a balance or a time: strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        if ((emergencyKinds >> uint8(provider.kind)) & 1 == 0) {
            revert ProviderKindNotAllowed(msg.sender, uint8(provider.kind));
        }
        EmergencyPreferences memory preferences = _preferences[patient];
        if (preferences.optedOut) revert EmergencyOptOut(patient);
        EmergencyWindow memory window = _windows[patient][msg.sender];
        if (_counts(window, provider.epoch, preferences.optedOutAt)) {
            revert EmergencyAccessAlreadyOpen(patient, msg.sender, window.until);
        }
        if (window.cooldownUntil > block.timestamp) {
            revert EmergencyCooldown(patient, msg.sender, window.cooldownUntil);
        }
        uint40 until = uint40(block.timestamp + emergencyWindow);
        _windows[patient][msg.sender] =
            EmergencyWindow(uint40(block.timestamp), until, window.cooldownUntil, provider.epoch);
        emit EmergencyAccessOpened(patient, msg.sender, reason, until);
    }

    /// @inheritdoc IEmergencyAccess
    function closeEmergencyAccess(address patient, address provider) external {
        if (msg.sender != provider) _requirePatientOrGuardian(patient);
        EmergencyWindow storage window = _windows[patient][provider];
        if (window.until <= block.timestamp) revert NoEmergencyAccess(patient, provider);
        window.until = uint40(block.timestamp);
        if (msg.sender != provider) window.cooldownUntil = uint40(block.timestamp + emergencyCooldown);
        emit EmergencyAccessClosed(patient, provider, msg.sender);
    }

    /// @inheritdoc IEmergencyAccess
    function setEmergencyPreferences(bool optOut, uint64 categories) external {
        uint40 optedOutAt = optOut ? uint40(block.timestamp) : _preferences[msg.sender].optedOutAt;
        _preferences[msg.sender] = EmergencyPreferences(optOut, categories, optedOutAt);
        emit EmergencyPreferencesSet(msg.sender, optOut, categories);
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyAccessUntil(address patient, address provider) external view returns (uint40) {
        return _windows[patient][provider].until;
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyWindowOf(address patient, address provider) external view returns (EmergencyWindow memory) {
        return _windows[patient][provider];
    }

    /// @inheritdoc IEmergencyAccess
    function isEmergencyOpen(address patient, address provider) external view returns (bool) {
        return _emergencyOpen(patient, provider);
    }

    /// @inheritdoc IEmergencyAccess
    function emergencyPreferencesOf(address patient) public view returns (bool optedOut, uint64 categories) {
        EmergencyPreferences memory preferences = _preferences[patient];
        // Zero means "no categories chosen", not a balance or a time: strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        return (preferences.optedOut, preferences.categories == 0 ? defaultEmergencyCategories : preferences.categories);
    }

    /// @dev Open break-glass covers `category` (reading for ETREAT is checked by the caller).
    function _emergencyCovers(address patient, address provider, uint8 category) internal view returns (bool) {
        if (!_emergencyOpen(patient, provider)) return false;
        (, uint64 categories) = emergencyPreferencesOf(patient);
        // A bit test on a mask, not a balance or a time: strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        return (categories >> category) & 1 == 1;
    }

    /// @dev Break-glass by `provider` is open: within its window, the patient is not opted out and
    /// has not opted out since it opened, and the provider is active with an unchanged credential.
    function _emergencyOpen(address patient, address provider) private view returns (bool) {
        EmergencyPreferences memory preferences = _preferences[patient];
        IProviderRegistry.Provider memory entry = _provider(provider);
        // An enum comparison, not a balance or a time: strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        return !preferences.optedOut && entry.status == IProviderRegistry.ProviderStatus.Active
            && _counts(_windows[patient][provider], entry.epoch, preferences.optedOutAt);
    }

    /// @dev The window runs now, under the provider's current credential (no suspension,
    /// reinstatement, withdrawal or kind correction since it opened), and opened after the
    /// patient's last opt-out (an opt-out in the opening second ends it too).
    function _counts(EmergencyWindow memory window, uint32 epoch, uint40 optedOutAt) private view returns (bool) {
        // An epoch counter comparison (the time test is `>`): strict equality is exact here.
        // slither-disable-next-line incorrect-equality
        return window.until > block.timestamp && window.providerEpoch == epoch && window.openedAt > optedOutAt;
    }
}
// slither-disable-end timestamp
