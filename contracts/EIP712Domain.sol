// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title EIP-712 domain of medledger ("MedLedger", version "1", chain id, this contract)
/// @notice A lean stand-in for OpenZeppelin's EIP712: the same domain separator and typed-data
/// hash, without ERC-5267's `eip712Domain()` and its string handling (about 870 bytes of code
/// that MedLedger needs to stay under the EIP-170 limit). The separator is cached for the
/// deployment chain and recomputed after a fork that changes the chain id.
abstract contract EIP712Domain {
    bytes32 private constant TYPE_HASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("MedLedger");
    bytes32 private constant VERSION_HASH = keccak256("1");

    bytes32 private immutable _cachedDomainSeparator;
    uint256 private immutable _cachedChainId;

    constructor() {
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    function _domainSeparatorV4() internal view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    function _hashTypedDataV4(bytes32 structHash) internal view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(_domainSeparatorV4(), structHash);
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(TYPE_HASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }
}
