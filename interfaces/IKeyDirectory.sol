// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Key directory of medledger
/// @notice Each account's X25519 public key: a record's data key is sealed to its patient's and
/// its author's key (everyone else gets it through the key-release services). Only public keys
/// reach the chain; no key material, sealed or not, is ever stored or emitted here.
interface IKeyDirectory is IMedLedgerErrors {
    event EncryptionKeySet(address indexed account, bytes32 publicKey);

    error InvalidPublicKey();

    /// @notice Publishes or rotates the caller's X25519 public key.
    function setEncryptionKey(bytes32 publicKey) external;

    /// @notice The X25519 public key of `account`, zero if none was published.
    function encryptionKeyOf(address account) external view returns (bytes32);
}
