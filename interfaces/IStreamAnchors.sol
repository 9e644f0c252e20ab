// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Device-stream anchors of medledger
/// @notice Providers credential their devices (bedside monitors, wearables) and the gateways that
/// collect their readings. A gateway groups each patient's readings per time window into one
/// encrypted blob, registered as a record of the patient authored by the provider, and anchors the
/// window's Merkle root here: every reading has an inclusion proof that `verifyReading` checks.
/// Leaves and tree follow the StandardMerkleTree of OpenZeppelin merkle-tree (npm) with the leaf encoding
/// `(address device, uint64 sequence, uint64 timestamp, bytes32 readingHash)`.
interface IStreamAnchors is IMedLedgerErrors {
    /// @dev One patient's readings of one category over [windowStart, windowEnd) (seconds).
    /// `digest` and `codec` are the encrypted blob's CID (as in the record registry); `count`
    /// is how many readings (leaves) the tree holds.
    struct Window {
        address patient;
        uint8 category;
        uint40 windowStart;
        uint40 windowEnd;
        bytes32 merkleRoot;
        bytes32 digest;
        uint32 codec;
        uint32 count;
    }

    /// @dev Why a well-formed window was not anchored (the rest of its batch still is).
    enum SkipReason {
        None,
        NoWriteConsent,
        RecordExists
    }

    /// @dev A credentialed device: its provider, and whether the provider retired it (for good).
    struct Device {
        address provider;
        bool retired;
    }

    event DeviceRegistered(address indexed device, address indexed provider);
    event DeviceRetired(address indexed device, address indexed provider);
    event GatewayAuthorized(address indexed gateway, address indexed provider);
    event GatewayRevoked(address indexed gateway, address indexed provider);
    /// @notice `windowId` = `windowIdOf(gateway, window)`: it commits to every field of the window.
    event WindowAnchored(
        bytes32 indexed windowId,
        address indexed patient,
        address indexed provider,
        address gateway,
        uint8 category,
        uint40 windowStart,
        uint40 windowEnd,
        bytes32 merkleRoot,
        bytes32 digest,
        uint32 count
    );
    /// @notice A window of the batch was left out: the provider lacks the patient's WRITE
    /// consent for that category (the record registry's rule), or the blob's digest is already a
    /// record of the patient.
    event WindowSkipped(
        address indexed patient, address indexed gateway, uint8 category, uint40 windowStart, SkipReason reason
    );

    error DeviceAlreadyRegistered(address device);
    error UnknownDevice(address device);
    error DeviceIsRetired(address device);
    error NotDeviceProvider(address device, address account);
    error GatewayAlreadyAuthorized(address gateway);
    error UnknownGateway(address gateway);
    error NotGatewayProvider(address gateway, address account);
    error ProviderInactive(address provider);
    error LedgerPaused();
    error EmptyBatch();
    error InvalidWindow(uint256 index);
    error WindowOverlaps(address patient, uint8 category, uint40 windowStart, uint40 lastEnd);
    error UnknownWindow(bytes32 windowId);

    /// @notice The caller, an active provider, credentials `device`. A device belongs to one
    /// provider for good: it is never registered again, not even after it is retired. Not while paused.
    function registerDevice(address device) external;

    /// @notice The device's provider retires it for good: the gateway refuses its readings from then on.
    function retireDevice(address device) external;

    /// @notice The caller, an active provider, authorises `gateway` to anchor windows for it. Not while paused.
    function authorizeGateway(address gateway) external;

    /// @notice The gateway's provider revokes it: it anchors nothing more.
    function revokeGateway(address gateway) external;

    /// @notice Anchors windows of any number of patients; the caller is an authorised gateway of
    /// an active provider. Each window is registered as a record of its patient, authored by the
    /// provider (the record registry's WRITE rule), and must start no earlier than the end of the
    /// last window anchored for the same (patient, gateway, category) stream. A malformed or
    /// overlapping window reverts the batch (a gateway bug); a window whose patient withheld
    /// consent is skipped (`WindowSkipped`) and the others are anchored.
    /// @return anchored how many windows were anchored.
    function anchor(Window[] calldata windows) external returns (uint256 anchored);

    /// @notice Whether reading `(device, sequence, timestamp, readingHash)` is leaf `proof` proves
    /// in anchored window `windowId` (reverts `UnknownWindow` for a window never anchored).
    function verifyReading(
        bytes32 windowId,
        address device,
        uint64 sequence,
        uint64 timestamp,
        bytes32 readingHash,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice The identifier of `window` anchored by `gateway`: keccak256(abi.encode(gateway, window)).
    function windowIdOf(address gateway, Window calldata window) external pure returns (bytes32);

    /// @notice The Merkle root anchored under `windowId` (zero when none).
    function windowRoot(bytes32 windowId) external view returns (bytes32);

    /// @notice The end of the last window anchored for the (patient, gateway, category) stream (0: none).
    function streamEnd(address patient, address gateway, uint8 category) external view returns (uint40);

    /// @notice The device's entry (provider zero when unregistered).
    function deviceOf(address device) external view returns (Device memory);

    /// @notice The provider whose readings `device` may send now: registered, not retired, and its
    /// provider active; zero otherwise.
    function activeDeviceProvider(address device) external view returns (address);

    /// @notice The provider `gateway` anchors for now (authorised and the provider active); zero otherwise.
    function activeGatewayProvider(address gateway) external view returns (address);

    /// @notice The provider that authorised `gateway` (zero when none), whatever its status.
    function gatewayProvider(address gateway) external view returns (address);
}

/// @title The ledger side of device streams
/// @notice What MedLedger offers its StreamAnchors module: registering a window's blob as a record
/// authored by the gateway's provider, under the record registry's own rules.
interface IStreamRecords {
    /// @notice `addRecord` as `author` (no amendment). Only the ledger's StreamAnchors module may
    /// call it; `author` needs WRITE consent for `category`, exactly as for `addRecord`.
    function addStreamRecord(address author, address patient, bytes32 digest, uint32 codec, uint8 category) external;
}
