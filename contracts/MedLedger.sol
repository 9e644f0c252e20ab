// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {ConsentRegistry} from "./ConsentRegistry.sol";
import {EIP712Domain} from "./EIP712Domain.sol";
import {EmergencyAccess} from "./EmergencyAccess.sol";
import {Guardians} from "./Guardians.sol";
import {KeyDirectory} from "./KeyDirectory.sol";
import {KeyReleaseServices} from "./KeyReleaseServices.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {ProviderStore} from "./ProviderStore.sol";
import {RecordRegistry} from "./RecordRegistry.sol";
import {Roles} from "./Roles.sol";
import {SignedConsent} from "./SignedConsent.sol";
import {StreamAnchors} from "./StreamAnchors.sol";
import {IStreamRecords} from "../interfaces/IStreamAnchors.sol";

/// @title medledger
/// @notice Roles (delayed two-step admin, separated duties, circuit breaker), provider registry,
/// key directory, guardians, break-glass, patient consent (direct and signed), record pointers
/// with an access log in one contract, so access checks are internal calls; the key-release
/// service sets and the device-stream anchors live in module contracts this one deploys
/// (`keyReleaseServices`, `streamAnchors`), which keeps MedLedger under the EIP-170 code-size limit. ProviderStore and EIP712Domain are the shared
/// state the modules build on. Not upgradeable: the rules a patient consented under cannot
/// change beneath them. `multicall` batches several of the caller's changes (say, a revocation
/// and a narrowed re-grant to someone else) into one atomic transaction.
/// @custom:version 2
contract MedLedger is
    Roles,
    ProviderStore,
    ProviderRegistry,
    Guardians,
    KeyDirectory,
    EmergencyAccess,
    ConsentRegistry,
    EIP712Domain,
    SignedConsent,
    RecordRegistry,
    IStreamRecords,
    Multicall
{
    /// @notice The key-release service-set module this deployment created (its own contract, so
    /// MedLedger stays under the EIP-170 code-size limit; it follows MedLedger's admin and roles).
    KeyReleaseServices public immutable keyReleaseServices;

    /// @notice The device-stream anchor module this deployment created: providers credential
    /// devices and gateways there, and gateways anchor windows of readings; it is the only
    /// contract that may register a record on a provider's behalf (`addStreamRecord`).
    StreamAnchors public immutable streamAnchors;

    /// @notice Deployment parameters, each validated by the module it configures.
    /// @param adminDelay seconds an admin transfer (and a service-set change) waits: 1 s .. 30 days.
    /// @param emergencyWindow seconds one break-glass opening lasts: 1 s .. 7 days.
    /// @param emergencyCooldown seconds a provider waits to break glass again on a patient after the
    /// patient or a guardian closed its window: 1 s .. 30 days.
    /// @param emergencyKinds bit k set: providers of ProviderKind k (1..5) may break glass.
    /// @param defaultEmergencyCategories categories break-glass opens unless a patient chose others (non-empty).
    /// @param maxConsentDuration the longest a consent may run from its grant (non-zero).
    /// @param maxGuardianTerm the longest guardianship (non-zero).
    struct Settings {
        uint48 adminDelay;
        uint32 emergencyWindow;
        uint32 emergencyCooldown;
        uint8 emergencyKinds;
        uint64 defaultEmergencyCategories;
        uint40 maxConsentDuration;
        uint40 maxGuardianTerm;
    }

    /// @param admin holds DEFAULT_ADMIN_ROLE: appoints registrars and pausers, proposes service sets.
    /// @param settings the deployment parameters (see `Settings`).
    constructor(address admin, Settings memory settings)
        Roles(settings.adminDelay, admin)
        Guardians(settings.maxGuardianTerm)
        EmergencyAccess(
            settings.emergencyWindow,
            settings.emergencyCooldown,
            settings.emergencyKinds,
            settings.defaultEmergencyCategories
        )
        ConsentRegistry(settings.maxConsentDuration)
    {
        keyReleaseServices = new KeyReleaseServices();
        streamAnchors = new StreamAnchors();
    }

    /// @inheritdoc IStreamRecords
    function addStreamRecord(address author, address patient, bytes32 digest, uint32 codec, uint8 category) external {
        if (msg.sender != address(streamAnchors)) revert NotAuthorized(msg.sender);
        _addRecord(author, patient, digest, codec, category, bytes32(0));
    }

    /// @dev Members of service sets that are not cancelled may take no duty role (see Roles).
    function _holdsServiceSeat(address account) internal view override returns (bool) {
        return keyReleaseServices.holdsServiceSeat(account);
    }
}
