// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Key-release service sets of medledger
/// @notice A versioned set of independent key-release services (k of n): each member holds one
/// share of every record data key written under its version and releases it only to a reader
/// whose access holds on chain and is logged. The admin proposes a set; it takes effect after
/// the same delay as an admin transfer (`defaultAdminDelay()`), so the admin changes the set only
/// through the delayed admin path, and a set may be cancelled only before it takes effect.
/// Versions are 1..serviceSetCount() and stay readable for ever: records written under an old
/// version are served by that version's members.
interface IKeyReleaseServices is IMedLedgerErrors {
    /// @dev `encryptionKeys[i]` is the X25519 public key of `members[i]` (shares are sealed to it).
    struct ServiceSet {
        address[] members;
        bytes32[] encryptionKeys;
        uint8 threshold;
        uint40 activatesAt;
        bool cancelled;
    }

    event ServiceSetProposed(
        uint32 indexed version, address[] members, bytes32[] encryptionKeys, uint8 threshold, uint40 activatesAt
    );
    event ServiceSetCancelled(uint32 indexed version);
    event ServiceEndpointSet(address indexed service, string url);

    error ServiceKeysMismatch(uint256 members, uint256 encryptionKeys);
    error InvalidServiceCount(uint256 members);
    error InvalidThreshold(uint8 threshold, uint256 members);
    error ZeroServiceKey(address service);
    error DuplicateServiceMember(address service);
    error DuplicateServiceKey(address service);
    error ServiceMemberHoldsRole(address service, bytes32 role);
    error ServiceMemberIsProvider(address service);
    error UnknownServiceSet(uint32 version);
    error ServiceSetAlreadyCancelled(uint32 version);
    error ServiceSetAlreadyActive(uint32 version, uint40 activatesAt);
    error NotAServiceMember(address account);
    error InvalidServiceEndpoint(uint256 length);

    /// @notice Proposes a new service set; it activates `defaultAdminDelay()` seconds from now.
    /// Admin only. 1 <= threshold <= members <= 16; no zero or duplicate member or key; no member
    /// may hold the admin, registrar or pauser role or be a registered provider (separation of
    /// duties; the provider registry refuses service members in turn).
    function proposeServiceSet(address[] calldata members, bytes32[] calldata encryptionKeys, uint8 threshold)
        external
        returns (uint32 version);

    /// @notice Cancels a proposed set before it activates. Admin only.
    function cancelServiceSet(uint32 version) external;

    /// @notice The number of service sets ever proposed (versions are 1..count).
    function serviceSetCount() external view returns (uint32);

    /// @notice The newest set that is not cancelled and has activated; 0 when there is none.
    function currentServiceSet() external view returns (uint32 version);

    /// @notice Service set `version` (reverts for an unknown version).
    function serviceSet(uint32 version) external view returns (ServiceSet memory);

    /// @notice The 1-based position of `account` in set `version` (its share index); 0 if not a member.
    function serviceIndex(uint32 version, address account) external view returns (uint8 index1);

    /// @notice Publishes the caller's HTTPS endpoint (1..256 bytes). Members of a set that is not
    /// cancelled only, each for itself.
    function setServiceEndpoint(string calldata url) external;

    /// @notice The endpoint `service` published ("" if none).
    function serviceEndpoint(address service) external view returns (string memory);

    /// @notice Whether `account` is a member of a set that is not cancelled (current, pending, or
    /// older and still serving its records): such an account may take no duty role.
    function holdsServiceSeat(address account) external view returns (bool);
}
