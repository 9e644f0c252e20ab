// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Multicall} from "@openzeppelin/contracts/utils/Multicall.sol";
import {KeyDirectory} from "./KeyDirectory.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {RecordRegistry} from "./RecordRegistry.sol";

/// @title medledger
/// @notice Provider registry, key directory, patient consent and record pointers in one
/// deployment, so access checks are internal calls. Not upgradeable: the rules a patient
/// consented under cannot change beneath them. `multicall` lets a patient revoke and rotate
/// keyrings in one transaction, leaving no window in which a writer could use the old keyring.
/// @custom:version 1
contract MedLedger is RecordRegistry, KeyDirectory, Multicall {
    /// @param admin holds DEFAULT_ADMIN_ROLE and appoints registrars.
    constructor(address admin) ProviderRegistry(admin) {}
}
