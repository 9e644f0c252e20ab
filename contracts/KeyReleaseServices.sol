// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {
    IAccessControlDefaultAdminRules
} from "@openzeppelin/contracts/access/extensions/IAccessControlDefaultAdminRules.sol";
import {IKeyReleaseServices} from "../interfaces/IKeyReleaseServices.sol";
import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";

/// @title Key-release service-set module
/// @notice Deployed by MedLedger in its constructor (`MedLedger.keyReleaseServices()`): it keeps
/// MedLedger under the EIP-170 code-size limit, and it reads MedLedger's roles, admin delay and
/// provider registry. The admin changes the set only through the delayed admin path: a proposal
/// activates after MedLedger's `defaultAdminDelay()`, the same delay as an admin transfer, and can
/// be cancelled until then, so patients and services see every change coming. Members are kept
/// off every duty role and off the provider registry (separation of duties); MedLedger asks
/// `holdsServiceSeat` before granting any role or registering a provider.
contract KeyReleaseServices is IKeyReleaseServices {
    bytes32 private constant DEFAULT_ADMIN_ROLE = 0x00;
    bytes32 private constant REGISTRAR_ROLE = keccak256("medledger.REGISTRAR");
    bytes32 private constant PAUSER_ROLE = keccak256("medledger.PAUSER");

    /// @notice The most members a set may have.
    uint8 public constant MAX_SERVICES = 16;
    /// @notice The longest endpoint URL a service may publish, in bytes.
    uint256 public constant MAX_ENDPOINT_BYTES = 256;

    /// @notice The MedLedger whose admin, roles and providers this module follows.
    address public immutable ledger;

    uint32 private _serviceSetCount;
    mapping(uint32 version => ServiceSet) private _serviceSets;
    mapping(uint32 version => mapping(address account => uint8 index1)) private _serviceIndex;
    /// @dev How many sets that are not cancelled `account` belongs to.
    mapping(address account => uint32) private _seats;
    mapping(address service => string) private _endpoints;

    /// @dev The admin of `ledger` only (AccessControl's error, as MedLedger's own functions give).
    modifier onlyAdmin() {
        if (!IAccessControl(ledger).hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert IAccessControl.AccessControlUnauthorizedAccount(msg.sender, DEFAULT_ADMIN_ROLE);
        }
        _;
    }

    constructor() {
        ledger = msg.sender;
    }

    /// @inheritdoc IKeyReleaseServices
    function proposeServiceSet(address[] calldata members, bytes32[] calldata encryptionKeys, uint8 threshold)
        external
        onlyAdmin
        returns (uint32 version)
    {
        uint256 count = members.length;
        if (count != encryptionKeys.length) revert ServiceKeysMismatch(count, encryptionKeys.length);
        if (count == 0 || count > MAX_SERVICES) revert InvalidServiceCount(count);
        if (threshold == 0 || threshold > count) revert InvalidThreshold(threshold, count);
        version = ++_serviceSetCount;
        for (uint256 i = 0; i < count; ++i) {
            address member = members[i];
            _checkMember(member);
            if (encryptionKeys[i] == bytes32(0)) revert ZeroServiceKey(member);
            if (_serviceIndex[version][member] != 0) revert DuplicateServiceMember(member);
            for (uint256 j = 0; j < i; ++j) {
                if (encryptionKeys[j] == encryptionKeys[i]) revert DuplicateServiceKey(member);
            }
            _serviceIndex[version][member] = uint8(i + 1);
            _seats[member] += 1;
        }
        uint40 activatesAt = uint40(block.timestamp + IAccessControlDefaultAdminRules(ledger).defaultAdminDelay());
        ServiceSet storage set = _serviceSets[version];
        set.members = members;
        set.encryptionKeys = encryptionKeys;
        set.threshold = threshold;
        set.activatesAt = activatesAt;
        emit ServiceSetProposed(version, members, encryptionKeys, threshold, activatesAt);
    }

    // slither-disable-start timestamp
    // Activation follows the admin delay (days); a validator's ~15 s drift is irrelevant.
    /// @inheritdoc IKeyReleaseServices
    function cancelServiceSet(uint32 version) external onlyAdmin {
        ServiceSet storage set = _existingSet(version);
        if (set.cancelled) revert ServiceSetAlreadyCancelled(version);
        if (set.activatesAt <= block.timestamp) revert ServiceSetAlreadyActive(version, set.activatesAt);
        set.cancelled = true;
        address[] storage members = set.members;
        for (uint256 i = 0; i < members.length; ++i) {
            _seats[members[i]] -= 1;
        }
        emit ServiceSetCancelled(version);
    }

    /// @inheritdoc IKeyReleaseServices
    function serviceSetCount() external view returns (uint32) {
        return _serviceSetCount;
    }

    /// @inheritdoc IKeyReleaseServices
    function currentServiceSet() external view returns (uint32 version) {
        for (version = _serviceSetCount; version > 0; --version) {
            ServiceSet storage set = _serviceSets[version];
            if (!set.cancelled && set.activatesAt <= block.timestamp) return version;
        }
    }

    // slither-disable-end timestamp

    /// @inheritdoc IKeyReleaseServices
    function serviceSet(uint32 version) external view returns (ServiceSet memory) {
        return _existingSet(version);
    }

    /// @inheritdoc IKeyReleaseServices
    function serviceIndex(uint32 version, address account) external view returns (uint8 index1) {
        return _serviceIndex[version][account];
    }

    /// @inheritdoc IKeyReleaseServices
    function setServiceEndpoint(string calldata url) external {
        if (_seats[msg.sender] == 0) revert NotAServiceMember(msg.sender);
        uint256 length = bytes(url).length;
        if (length == 0 || length > MAX_ENDPOINT_BYTES) revert InvalidServiceEndpoint(length);
        _endpoints[msg.sender] = url;
        emit ServiceEndpointSet(msg.sender, url);
    }

    /// @inheritdoc IKeyReleaseServices
    function serviceEndpoint(address service) external view returns (string memory) {
        return _endpoints[service];
    }

    /// @inheritdoc IKeyReleaseServices
    function holdsServiceSeat(address account) external view returns (bool) {
        return _seats[account] != 0;
    }

    function _checkMember(address member) private view {
        if (member == address(0)) revert ZeroAddress();
        _requireNoRole(member, DEFAULT_ADMIN_ROLE);
        _requireNoRole(member, REGISTRAR_ROLE);
        _requireNoRole(member, PAUSER_ROLE);
        // Bounded by MAX_SERVICES; the call goes to the trusted ledger that deployed this module.
        // slither-disable-next-line calls-loop
        if (IProviderRegistry(ledger).providerOf(member).status != IProviderRegistry.ProviderStatus.None) {
            revert ServiceMemberIsProvider(member);
        }
    }

    function _requireNoRole(address member, bytes32 role) private view {
        // Bounded by MAX_SERVICES; the call goes to the trusted ledger that deployed this module.
        // slither-disable-next-line calls-loop
        if (IAccessControl(ledger).hasRole(role, member)) revert ServiceMemberHoldsRole(member, role);
    }

    function _existingSet(uint32 version) private view returns (ServiceSet storage set) {
        if (version == 0 || version > _serviceSetCount) revert UnknownServiceSet(version);
        return _serviceSets[version];
    }
}
