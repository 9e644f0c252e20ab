// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {ConsentRegistry} from "./ConsentRegistry.sol";
import {Scopes} from "./Scopes.sol";

/// @title Record pointer module
/// @notice Records are keyed by (patient, CID digest): a digest can be added once per patient,
/// so a pointer is never overwritten and a replayed transaction cannot add it twice, with one
/// exception: the patient's own addRecord takes over a digest another author registered first,
/// so no grantee can block a patient's record. Access logging stops while paused (key releases
/// follow a logged access).
abstract contract RecordRegistry is Pausable, ConsentRegistry, IRecordRegistry {
    mapping(address patient => mapping(bytes32 digest => Record)) private _records;
    /// @dev Written only for amendments: the digest the amendment superseded.
    mapping(address patient => mapping(bytes32 amendment => bytes32 original)) private _amended;

    /// @inheritdoc IRecordRegistry
    function addRecord(address patient, bytes32 digest, uint32 codec, uint8 category, bytes32 supersedes) external {
        _addRecord(msg.sender, patient, digest, codec, category, supersedes);
    }

    /// @dev `addRecord` by `author` (the caller, or the provider of a stream gateway: see MedLedger).
    function _addRecord(
        address author,
        address patient,
        bytes32 digest,
        uint32 codec,
        uint8 category,
        bytes32 supersedes
    ) internal {
        if (patient == address(0)) revert ZeroAddress();
        if (digest == bytes32(0)) revert InvalidDigest();
        if (codec != Scopes.CODEC_RAW && codec != Scopes.CODEC_DAG_PB) revert UnsupportedCodec(codec);
        if (category >= Scopes.CATEGORY_COUNT) revert InvalidCategory(category);
        if (!_hasAccess(patient, author, category, Scopes.ALL_PURPOSES, Scopes.WRITE)) {
            revert NotAuthorized(author);
        }
        address previousAuthor = _records[patient][digest].author;
        if (previousAuthor != address(0)) {
            if (author != patient || previousAuthor == patient) revert RecordExists(patient, digest);
            _takeOver(patient, digest, previousAuthor);
        }
        if (supersedes != bytes32(0)) {
            _markSuperseded(author, patient, supersedes, category);
            _amended[patient][digest] = supersedes;
        }
        _records[patient][digest] = Record(author, codec, category, uint40(block.timestamp), false, false);
        emit RecordAdded(patient, digest, author, codec, category, supersedes);
    }

    /// @inheritdoc IRecordRegistry
    function eraseRecord(bytes32 digest) external {
        Record storage record = _existing(msg.sender, digest);
        if (record.erased) revert RecordIsErased(msg.sender, digest);
        record.erased = true;
        emit RecordErased(msg.sender, digest);
        bytes32 original = _amended[msg.sender][digest];
        if (original != bytes32(0)) _restore(msg.sender, original, digest);
    }

    /// @inheritdoc IRecordRegistry
    function logAccess(address patient, bytes32 digest, uint8 purpose) external whenNotPaused {
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

    /// @inheritdoc IRecordRegistry
    function amendedBy(address patient, bytes32 amendment) external view returns (bytes32 original) {
        return _amended[patient][amendment];
    }

    /// @dev An amendment must name a live, unamended record of the same patient and category,
    /// and come from the patient or that record's author.
    function _markSuperseded(address author, address patient, bytes32 digest, uint8 category) private {
        Record storage previous = _existing(patient, digest);
        if (author != patient && author != previous.author) revert MayNotAmend(author, digest);
        if (previous.erased) revert RecordIsErased(patient, digest);
        if (previous.superseded) revert RecordAlreadySuperseded(patient, digest);
        if (previous.category != category) revert CategoryMismatch(previous.category, category);
        previous.superseded = true;
    }

    /// @dev The patient claims a digest another author registered first: that author's pointer
    /// (and any amendment it made) is undone before the patient's is written.
    function _takeOver(address patient, bytes32 digest, address previousAuthor) private {
        bytes32 original = _amended[patient][digest];
        if (original != bytes32(0)) {
            delete _amended[patient][digest];
            _restore(patient, original, digest);
        }
        emit RecordTakenOver(patient, digest, previousAuthor);
    }

    /// @dev Withdrawing amendment `amendment` makes `original` amendable again.
    function _restore(address patient, bytes32 original, bytes32 amendment) private {
        Record storage record = _records[patient][original];
        if (record.superseded) {
            record.superseded = false;
            emit SupersessionUndone(patient, original, amendment);
        }
    }

    function _existing(address patient, bytes32 digest) private view returns (Record storage record) {
        record = _records[patient][digest];
        if (record.author == address(0)) revert UnknownRecord(patient, digest);
    }
}
