// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Break-glass emergency access of medledger
/// @notice An active provider of an allowed kind may open read access to a patient's emergency
/// categories, for emergency treatment (ETREAT) only, for a window fixed at deployment. Every
/// opening is an event for the patient and auditors to review; a patient may opt out in advance.
/// A window is fixed once opened: it cannot be re-opened while it runs; a close by the patient or
/// a guardian starts a cool-down for that provider on that patient; an opt-out, a suspension, a
/// withdrawal or a kind correction ends it for good (opting back in or a reinstatement does not
/// revive it).
interface IEmergencyAccess is IMedLedgerErrors {
    /// @dev One slot per (patient, provider). `providerEpoch` is the provider's credential epoch
    /// (`Provider.epoch`) when the window opened: any later credential change ends the window.
    struct EmergencyWindow {
        uint40 openedAt;
        uint40 until;
        uint40 cooldownUntil;
        uint32 providerEpoch;
    }

    event EmergencyAccessOpened(address indexed patient, address indexed provider, uint8 reason, uint40 until);
    event EmergencyAccessClosed(address indexed patient, address indexed provider, address indexed closedBy);
    event EmergencyPreferencesSet(address indexed patient, bool optedOut, uint64 categories);

    error EmergencyOptOut(address patient);
    error ProviderKindNotAllowed(address provider, uint8 kind);
    error InvalidReason(uint8 reason);
    error NoEmergencyAccess(address patient, address provider);
    error EmergencyAccessAlreadyOpen(address patient, address provider, uint40 until);
    error EmergencyCooldown(address patient, address provider, uint40 cooldownUntil);
    error InvalidEmergencyWindow(uint32 window);
    error InvalidEmergencyCooldown(uint32 cooldown);
    error InvalidEmergencyKinds(uint8 kinds);
    error EmptyEmergencyCategories();

    /// @notice Opens emergency access to `patient`'s emergency categories for the caller.
    /// Not while paused, while a window of the caller on the patient is open, or in a cool-down.
    /// @param reason a code, never free text: 1 unconscious, 2 life-threatening, 3 unable to consent, 4 other.
    function breakGlass(address patient, uint8 reason) external;

    /// @notice Ends an open emergency access early (the patient, a guardian or the provider). A
    /// close by the patient or a guardian starts the provider's cool-down on this patient.
    function closeEmergencyAccess(address patient, address provider) external;

    /// @notice The caller opts out of (or back into) break-glass and chooses its categories
    /// (0 keeps the deployment's default categories). An opt-out ends open windows for good.
    function setEmergencyPreferences(bool optOut, uint64 categories) external;

    /// @notice Until when `provider`'s break-glass window on `patient` runs (0 or past: none). Access
    /// also ends earlier if the patient opts out or the provider is suspended.
    function emergencyAccessUntil(address patient, address provider) external view returns (uint40);

    /// @notice The window slot of `provider` on `patient`: opening time, end, cool-down end, and the
    /// provider's credential epoch it was opened under.
    function emergencyWindowOf(address patient, address provider) external view returns (EmergencyWindow memory);

    /// @notice Whether `provider`'s break-glass access to `patient` is open now.
    function isEmergencyOpen(address patient, address provider) external view returns (bool);

    /// @notice The categories break-glass opens for `patient`, and whether the patient opted out.
    function emergencyPreferencesOf(address patient) external view returns (bool optedOut, uint64 categories);
}
