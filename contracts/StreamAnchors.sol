// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {IConsentRegistry} from "../interfaces/IConsentRegistry.sol";
import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {IStreamAnchors, IStreamRecords} from "../interfaces/IStreamAnchors.sol";
import {Scopes} from "./Scopes.sol";

/// @title Device-stream anchor module
/// @notice Deployed by MedLedger in its constructor (`MedLedger.streamAnchors()`), so patients and
/// readers find it through the ledger and the ledger trusts it, and only it, to register a
/// window's blob as a record authored by the gateway's provider. It reads MedLedger's provider
/// registry and consent: a suspended or withdrawn provider's devices and gateways stop counting
/// at once, and a window is anchored only under the provider's WRITE consent for its category.
/// Per window it stores one slot (the root, under an identifier that commits to every field of
/// the window) and the end of the stream's last window, which refuses duplicates, overlaps and replays.
contract StreamAnchors is IStreamAnchors {
    /// @notice The MedLedger whose providers, consent and records this module uses.
    address public immutable ledger;

    mapping(address device => Device) private _devices;
    mapping(address gateway => address provider) private _gateways;
    mapping(bytes32 windowId => bytes32 root) private _roots;
    /// @dev keccak256(patient, gateway, category) => end of the stream's last anchored window.
    mapping(bytes32 stream => uint40 end) private _streamEnds;

    constructor() {
        ledger = msg.sender;
    }

    /// @dev Registrations follow the ledger's circuit breaker; retirements and revocations do not.
    modifier whenLedgerNotPaused() {
        if (Pausable(ledger).paused()) revert LedgerPaused();
        _;
    }

    /// @inheritdoc IStreamAnchors
    function registerDevice(address device) external whenLedgerNotPaused {
        if (device == address(0)) revert ZeroAddress();
        _requireActive(msg.sender);
        if (_devices[device].provider != address(0)) revert DeviceAlreadyRegistered(device);
        _devices[device] = Device(msg.sender, false);
        emit DeviceRegistered(device, msg.sender);
    }

    /// @inheritdoc IStreamAnchors
    function retireDevice(address device) external {
        Device storage entry = _devices[device];
        if (entry.provider == address(0)) revert UnknownDevice(device);
        if (entry.provider != msg.sender) revert NotDeviceProvider(device, msg.sender);
        if (entry.retired) revert DeviceIsRetired(device);
        entry.retired = true;
        emit DeviceRetired(device, msg.sender);
    }

    /// @inheritdoc IStreamAnchors
    function authorizeGateway(address gateway) external whenLedgerNotPaused {
        if (gateway == address(0)) revert ZeroAddress();
        _requireActive(msg.sender);
        if (_gateways[gateway] != address(0)) revert GatewayAlreadyAuthorized(gateway);
        _gateways[gateway] = msg.sender;
        emit GatewayAuthorized(gateway, msg.sender);
    }

    /// @inheritdoc IStreamAnchors
    function revokeGateway(address gateway) external {
        address provider = _gateways[gateway];
        if (provider == address(0)) revert UnknownGateway(gateway);
        if (provider != msg.sender) revert NotGatewayProvider(gateway, msg.sender);
        delete _gateways[gateway];
        emit GatewayRevoked(gateway, msg.sender);
    }

    /// @inheritdoc IStreamAnchors
    function anchor(Window[] calldata windows) external returns (uint256 anchored) {
        address provider = _gateways[msg.sender];
        if (provider == address(0)) revert UnknownGateway(msg.sender);
        _requireActive(provider);
        uint256 count = windows.length;
        if (count == 0) revert EmptyBatch();
        // slither-disable-start reentrancy-no-eth,reentrancy-benign
        // The only external call is to the ledger, the trusted contract that deployed this one,
        // which calls nothing back; each window's own state is written before its call.
        for (uint256 i = 0; i < count; ++i) {
            Window calldata window = windows[i];
            _checkWindow(window, i);
            bytes32 stream = keccak256(abi.encode(window.patient, msg.sender, window.category));
            uint40 lastEnd = _streamEnds[stream];
            if (window.windowStart < lastEnd) {
                revert WindowOverlaps(window.patient, window.category, window.windowStart, lastEnd);
            }
            SkipReason reason = _skipReason(provider, window);
            if (reason != SkipReason.None) {
                emit WindowSkipped(window.patient, msg.sender, window.category, window.windowStart, reason);
                continue;
            }
            bytes32 windowId = keccak256(abi.encode(msg.sender, window));
            _streamEnds[stream] = window.windowEnd;
            _roots[windowId] = window.merkleRoot;
            ++anchored;
            emit WindowAnchored(
                windowId,
                window.patient,
                provider,
                msg.sender,
                window.category,
                window.windowStart,
                window.windowEnd,
                window.merkleRoot,
                window.digest,
                window.count
            );
            // slither-disable-next-line calls-loop,reentrancy-events
            IStreamRecords(ledger)
                .addStreamRecord(provider, window.patient, window.digest, window.codec, window.category);
        }
        // slither-disable-end reentrancy-no-eth,reentrancy-benign
    }

    /// @inheritdoc IStreamAnchors
    function verifyReading(
        bytes32 windowId,
        address device,
        uint64 sequence,
        uint64 timestamp,
        bytes32 readingHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _roots[windowId];
        if (root == bytes32(0)) revert UnknownWindow(windowId);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(device, sequence, timestamp, readingHash))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IStreamAnchors
    function windowIdOf(address gateway, Window calldata window) external pure returns (bytes32) {
        return keccak256(abi.encode(gateway, window));
    }

    /// @inheritdoc IStreamAnchors
    function windowRoot(bytes32 windowId) external view returns (bytes32) {
        return _roots[windowId];
    }

    /// @inheritdoc IStreamAnchors
    function streamEnd(address patient, address gateway, uint8 category) external view returns (uint40) {
        return _streamEnds[keccak256(abi.encode(patient, gateway, category))];
    }

    /// @inheritdoc IStreamAnchors
    function deviceOf(address device) external view returns (Device memory) {
        return _devices[device];
    }

    /// @inheritdoc IStreamAnchors
    function activeDeviceProvider(address device) external view returns (address) {
        Device memory entry = _devices[device];
        if (entry.provider == address(0) || entry.retired) return address(0);
        return IProviderRegistry(ledger).isActiveProvider(entry.provider) ? entry.provider : address(0);
    }

    /// @inheritdoc IStreamAnchors
    function activeGatewayProvider(address gateway) external view returns (address) {
        address provider = _gateways[gateway];
        if (provider == address(0)) return address(0);
        return IProviderRegistry(ledger).isActiveProvider(provider) ? provider : address(0);
    }

    /// @inheritdoc IStreamAnchors
    function gatewayProvider(address gateway) external view returns (address) {
        return _gateways[gateway];
    }

    function _requireActive(address provider) private view {
        if (!IProviderRegistry(ledger).isActiveProvider(provider)) revert ProviderInactive(provider);
    }

    /// @dev A well-formed window: a patient, a category, a non-empty span, a root, a blob, readings.
    function _checkWindow(Window calldata window, uint256 index) private pure {
        if (
            window.patient == address(0) || window.category >= Scopes.CATEGORY_COUNT
                || window.windowEnd <= window.windowStart || window.merkleRoot == bytes32(0)
                || window.digest == bytes32(0)
                || (window.codec != Scopes.CODEC_RAW && window.codec != Scopes.CODEC_DAG_PB) || window.count == 0
        ) revert InvalidWindow(index);
    }

    // slither-disable-start timestamp,calls-loop
    // Consent expiry is a days-scale rule (as in ConsentRegistry); the ledger is trusted.
    /// @dev The record registry's WRITE rule for the provider (any purpose: purposes scope
    /// disclosure, not authorship), and a digest the patient has no record under yet. The
    /// provider's status was checked once for the batch.
    function _skipReason(address provider, Window calldata window) private view returns (SkipReason) {
        if (provider != window.patient) {
            IConsentRegistry.Consent memory consent = IConsentRegistry(ledger).consentOf(window.patient, provider);
            if (
                consent.expiry <= block.timestamp || (consent.categories >> window.category) & 1 == 0
                    || consent.purposes == 0 || consent.permissions & Scopes.WRITE == 0
            ) return SkipReason.NoWriteConsent;
        }
        if (IRecordRegistry(ledger).recordOf(window.patient, window.digest).author != address(0)) {
            return SkipReason.RecordExists;
        }
        return SkipReason.None;
    }
    // slither-disable-end timestamp,calls-loop
}
