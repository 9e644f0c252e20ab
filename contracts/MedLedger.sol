// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {EmergencyAccess} from "./EmergencyAccess.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {RecordRegistry} from "./RecordRegistry.sol";

/// @title medledger
/// @notice Provider registry, key directory, guardians, break-glass, patient consent (direct and
/// signed) and record pointers with an access log in one deployment, so access checks are
/// internal calls. Not upgradeable: the rules a patient
/// consented under cannot change beneath them. `multicall` lets a patient revoke and rotate
/// keyrings in one transaction, leaving no window in which a writer could use the old keyring.
/// @custom:version 1
contract MedLedger is RecordRegistry, Multicall {
    /// @param admin holds DEFAULT_ADMIN_ROLE and appoints registrars.
    /// @param emergencyWindow seconds one break-glass opening lasts.
    /// @param emergencyKinds bit k set: providers of ProviderKind k may break glass.
    /// @param defaultEmergencyCategories categories break-glass opens unless a patient chose others.
    constructor(address admin, uint32 emergencyWindow, uint8 emergencyKinds, uint64 defaultEmergencyCategories)
        ProviderRegistry(admin)
        EmergencyAccess(emergencyWindow, emergencyKinds, defaultEmergencyCategories)
        EIP712("MedLedger", "1")
    {}
}
