// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IKeyDirectory} from "../interfaces/IKeyDirectory.sol";
import {Guardians} from "./Guardians.sol";
import {Scopes} from "./Scopes.sol";

/// @title Key directory module
/// @notice Anyone may publish their own keys; only a patient's guardians may rotate another's keyrings.
abstract contract KeyDirectory is Guardians, IKeyDirectory {
    struct Keyring {
        bytes32 publicKey;
        uint32 epoch;
    }

    mapping(address account => bytes32) private _encryptionKeys;
    mapping(address patient => mapping(uint8 category => Keyring)) private _keyrings;

    /// @inheritdoc IKeyDirectory
    function setEncryptionKey(bytes32 publicKey) external {
        if (publicKey == bytes32(0)) revert InvalidPublicKey();
        _encryptionKeys[msg.sender] = publicKey;
        emit EncryptionKeySet(msg.sender, publicKey);
    }

    /// @inheritdoc IKeyDirectory
    function rotateKeyring(uint8 category, bytes32 publicKey, bytes calldata envelope) external {
        _rotateKeyring(msg.sender, category, publicKey, envelope);
    }

    /// @inheritdoc IKeyDirectory
    function rotateKeyringFor(address patient, uint8 category, bytes32 publicKey, bytes calldata envelope) external {
        _requirePatientOrGuardian(patient);
        _rotateKeyring(patient, category, publicKey, envelope);
    }

    /// @inheritdoc IKeyDirectory
    function encryptionKeyOf(address account) external view returns (bytes32) {
        return _encryptionKeys[account];
    }

    function _rotateKeyring(address patient, uint8 category, bytes32 publicKey, bytes calldata envelope) private {
        if (category >= Scopes.CATEGORY_COUNT) revert InvalidCategory(category);
        if (publicKey == bytes32(0)) revert InvalidPublicKey();
        Keyring storage keyring = _keyrings[patient][category];
        uint32 epoch = keyring.epoch + 1;
        keyring.publicKey = publicKey;
        keyring.epoch = epoch;
        emit KeyringRotated(patient, category, epoch, publicKey, envelope);
    }

    /// @inheritdoc IKeyDirectory
    function keyringOf(address patient, uint8 category) external view returns (bytes32 publicKey, uint32 epoch) {
        Keyring storage keyring = _keyrings[patient][category];
        return (keyring.publicKey, keyring.epoch);
    }
}
