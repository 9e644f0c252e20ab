// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

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

    /// @notice Adds a pointer to `patient`'s record. Allowed for the patient and for an active
    /// provider holding WRITE consent for `category`.
    /// @param supersedes digest of the record this one amends (same patient and category), or zero.
    function addRecord(address patient, bytes32 digest, uint32 codec, uint8 category, bytes32 supersedes) external;

    /// @notice Marks the caller's record erased (its blob and keys are destroyed off chain).
    function eraseRecord(bytes32 digest) external;

    /// @notice Records that the caller read `patient`'s record `digest` for `purpose`; reverts
    /// unless the caller may read that record's category for that purpose now.
    function logAccess(address patient, bytes32 digest, uint8 purpose) external;

    /// @notice The record of `patient` with `digest` (author zero when there is none).
    function recordOf(address patient, bytes32 digest) external view returns (Record memory);
}
