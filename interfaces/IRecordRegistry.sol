// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Record registry of medledger
/// @notice Append-only pointers to encrypted records on IPFS. A record is identified by the
/// sha2-256 digest of its CID; its codec (0x55 raw, 0x70 dag-pb) rebuilds the CIDv1.
/// Nothing is overwritten: an amendment is a new record that supersedes an older one, and
/// erasure only marks the pointer (the blob is unpinned and its keys destroyed off chain).
interface IRecordRegistry is IMedLedgerErrors {
    /// @dev One storage slot per record.
    struct Record {
        address author;
        uint32 codec;
        uint8 category;
        uint40 createdAt;
        bool superseded;
        bool erased;
    }

    /// @param supersedes the digest of the record this one amends, zero for none.
    event RecordAdded(
        address indexed patient,
        bytes32 indexed digest,
        address indexed author,
        uint32 codec,
        uint8 category,
        bytes32 supersedes
    );
    event RecordErased(address indexed patient, bytes32 indexed digest);
    /// @notice `original` is no longer superseded: its amendment `amendment` was erased or taken over.
    event SupersessionUndone(address indexed patient, bytes32 indexed original, bytes32 amendment);
    /// @notice The patient took over `digest`, which `previousAuthor` had registered first.
    event RecordTakenOver(address indexed patient, bytes32 indexed digest, address indexed previousAuthor);
    /// @notice `accessor` read `patient`'s record `digest` for `purpose` (an HL7 PurposeOfUse bit).
    event AccessLogged(address indexed patient, bytes32 indexed digest, address indexed accessor, uint8 purpose);

    error InvalidDigest();
    error UnsupportedCodec(uint32 codec);
    error RecordExists(address patient, bytes32 digest);
    error UnknownRecord(address patient, bytes32 digest);
    error RecordIsErased(address patient, bytes32 digest);
    error RecordAlreadySuperseded(address patient, bytes32 digest);
    error CategoryMismatch(uint8 expected, uint8 actual);
    error NotAuthorized(address account);
    error MayNotAmend(address account, bytes32 digest);

    /// @notice Adds a pointer to `patient`'s record. Allowed for the patient and for an active
    /// provider holding WRITE consent for `category`. The patient's own call takes over a digest
    /// another author registered first (even an erased one).
    /// @param supersedes digest of the record this one amends (same patient and category, by the
    /// patient or that record's author), or zero.
    function addRecord(address patient, bytes32 digest, uint32 codec, uint8 category, bytes32 supersedes) external;

    /// @notice Marks the caller's record erased (its blob and keys are destroyed off chain).
    /// Erasing an amendment makes the record it superseded amendable again.
    function eraseRecord(bytes32 digest) external;

    /// @notice Records that the caller read `patient`'s record `digest` for `purpose`; reverts
    /// unless the caller may read that record's category for that purpose now. Not while paused.
    function logAccess(address patient, bytes32 digest, uint8 purpose) external;

    /// @notice The record of `patient` with `digest` (author zero when there is none).
    function recordOf(address patient, bytes32 digest) external view returns (Record memory);

    /// @notice The digest that amendment `amendment` superseded (zero when it amends nothing).
    function amendedBy(address patient, bytes32 amendment) external view returns (bytes32 original);
}
