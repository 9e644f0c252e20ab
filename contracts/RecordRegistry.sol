// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {Scopes} from "./Scopes.sol";
import {SignedConsent} from "./SignedConsent.sol";

/// @title Record pointer module
/// @notice Records are keyed by (patient, CID digest): a digest can be added once per patient,
/// so a pointer is never overwritten and a replayed transaction cannot add it twice.
abstract contract RecordRegistry is SignedConsent, IRecordRegistry {
    mapping(address patient => mapping(bytes32 digest => Record)) private _records;

    /// @inheritdoc IRecordRegistry
    function addRecord(address patient, bytes32 digest, uint32 codec, uint8 category, bytes32 supersedes) external {
        if (patient == address(0)) revert ZeroAddress();
        if (digest == bytes32(0)) revert InvalidDigest();
        if (codec != Scopes.CODEC_RAW && codec != Scopes.CODEC_DAG_PB) revert UnsupportedCodec(codec);
        if (category >= Scopes.CATEGORY_COUNT) revert InvalidCategory(category);
        if (!_hasAccess(patient, msg.sender, category, Scopes.ALL_PURPOSES, Scopes.WRITE)) {
            revert NotAuthorized(msg.sender);
        }
        if (_records[patient][digest].author != address(0)) revert RecordExists(patient, digest);
        if (supersedes != bytes32(0)) _markSuperseded(patient, supersedes, category);
        _records[patient][digest] = Record(msg.sender, codec, category, uint40(block.timestamp), false, false);
        emit RecordAdded(patient, digest, msg.sender, codec, category, supersedes);
    }

    /// @inheritdoc IRecordRegistry
    function eraseRecord(bytes32 digest) external {
        Record storage record = _existing(msg.sender, digest);
        if (record.erased) revert RecordIsErased(msg.sender, digest);
        record.erased = true;
        emit RecordErased(msg.sender, digest);
    }

    /// @inheritdoc IRecordRegistry
    function logAccess(address patient, bytes32 digest, uint8 purpose) external {
        if (purpose >= Scopes.PURPOSE_COUNT) revert InvalidPurpose(purpose);
        Record memory record = _records[patient][digest];
        if (record.author == address(0)) revert UnknownRecord(patient, digest);
        if (record.erased) revert RecordIsErased(patient, digest);
        if (!_hasAccess(patient, msg.sender, record.category, uint16(1) << purpose, Scopes.READ)) {
            revert NotAuthorized(msg.sender);
        }
        emit AccessLogged(patient, digest, msg.sender, purpose);
    }

    /// @inheritdoc IRecordRegistry
    function recordOf(address patient, bytes32 digest) external view returns (Record memory) {
        return _records[patient][digest];
    }

    /// @dev An amendment must name a live, unamended record of the same patient and category.
    function _markSuperseded(address patient, bytes32 digest, uint8 category) private {
        Record storage previous = _existing(patient, digest);
        if (previous.erased) revert RecordIsErased(patient, digest);
        if (previous.superseded) revert RecordAlreadySuperseded(patient, digest);
        if (previous.category != category) revert CategoryMismatch(previous.category, category);
        previous.superseded = true;
    }

    function _existing(address patient, bytes32 digest) private view returns (Record storage record) {
        record = _records[patient][digest];
        if (record.author == address(0)) revert UnknownRecord(patient, digest);
    }
}
