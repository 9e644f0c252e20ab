// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ISignedConsent} from "../interfaces/ISignedConsent.sol";
import {ConsentRegistry} from "./ConsentRegistry.sol";
import {EIP712Domain} from "./EIP712Domain.sol";
import {Guardians} from "./Guardians.sol";

/// @title Signed consent module (EIP-712, relayed)
/// @notice Signatures are checked with OpenZeppelin's ECDSA (which rejects malleable high-s
/// signatures) and, when that does not yield the patient, ERC-1271 for contract wallets such as
/// a Safe. Trying ECDSA first spares accounts the cold code-size lookup (2,600 gas). Every
/// message binds its issue time, so its whole lifetime is bounded, not only the wait for a relay.
abstract contract SignedConsent is Guardians, ConsentRegistry, EIP712Domain, ISignedConsent {
    /// @notice A signature may be valid for at most this long after it is issued, so a leaked
    /// one soon goes stale.
    uint256 public constant MAX_SIGNATURE_LIFETIME = 30 days;

    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,uint64 categories,uint16 purposes,uint8 permissions,uint40 expiry,uint64 nonce,uint256 issuedAt,uint256 deadline)"
    );
    bytes32 public constant REVOKE_TYPEHASH =
        keccak256("Revoke(address patient,address grantee,uint64 nonce,uint256 issuedAt,uint256 deadline)");
    bytes32 public constant APPOINT_GUARDIAN_TYPEHASH = keccak256(
        "AppointGuardian(address patient,address guardian,uint40 until,bool canAppoint,uint64 nonce,uint256 issuedAt,uint256 deadline)"
    );
    bytes32 public constant REMOVE_GUARDIAN_TYPEHASH =
        keccak256("RemoveGuardian(address patient,address guardian,uint64 nonce,uint256 issuedAt,uint256 deadline)");
    bytes32 public constant CANCEL_NONCES_TYPEHASH = keccak256(
        "CancelNonces(address patient,address counterparty,uint64 consentNonce,uint64 guardianNonce,uint256 issuedAt,uint256 deadline)"
    );

    /// @inheritdoc ISignedConsent
    function grantBySig(
        address patient,
        address grantee,
        uint64 categories,
        uint16 purposes,
        uint8 permissions,
        uint40 expiry,
        Validity calldata validity,
        bytes calldata signature
    ) external {
        _checkFreshness(_consentNonce(patient, grantee), validity);
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH,
                patient,
                grantee,
                categories,
                purposes,
                permissions,
                expiry,
                validity.nonce,
                validity.issuedAt,
                validity.deadline
            )
        );
        _requireSignature(patient, structHash, signature);
        _grant(patient, grantee, categories, purposes, permissions, expiry);
    }

    /// @inheritdoc ISignedConsent
    function revokeBySig(address patient, address grantee, Validity calldata validity, bytes calldata signature)
        external
    {
        _checkFreshness(_consentNonce(patient, grantee), validity);
        _requireSignature(
            patient,
            keccak256(
                abi.encode(REVOKE_TYPEHASH, patient, grantee, validity.nonce, validity.issuedAt, validity.deadline)
            ),
            signature
        );
        _revoke(patient, grantee);
    }

    /// @inheritdoc ISignedConsent
    function appointGuardianBySig(
        address patient,
        address guardian,
        uint40 until,
        bool canAppoint,
        Validity calldata validity,
        bytes calldata signature
    ) external {
        _checkFreshness(_guardianNonce(patient, guardian), validity);
        bytes32 structHash = keccak256(
            abi.encode(
                APPOINT_GUARDIAN_TYPEHASH,
                patient,
                guardian,
                until,
                canAppoint,
                validity.nonce,
                validity.issuedAt,
                validity.deadline
            )
        );
        _requireSignature(patient, structHash, signature);
        _appointGuardian(patient, patient, guardian, until, canAppoint);
    }

    /// @inheritdoc ISignedConsent
    function removeGuardianBySig(
        address patient,
        address guardian,
        Validity calldata validity,
        bytes calldata signature
    ) external {
        _checkFreshness(_guardianNonce(patient, guardian), validity);
        _requireSignature(
            patient,
            keccak256(
                abi.encode(
                    REMOVE_GUARDIAN_TYPEHASH, patient, guardian, validity.nonce, validity.issuedAt, validity.deadline
                )
            ),
            signature
        );
        _removeGuardian(patient, patient, guardian);
    }

    /// @inheritdoc ISignedConsent
    function cancelNonces(address counterparty) external {
        _cancelNonces(msg.sender, counterparty);
    }

    /// @inheritdoc ISignedConsent
    function cancelNoncesBySig(
        address patient,
        address counterparty,
        uint256 issuedAt,
        uint256 deadline,
        bytes calldata signature
    ) external {
        uint64 consentNonce = _consentNonce(patient, counterparty);
        _checkLifetime(issuedAt, deadline);
        _requireSignature(
            patient,
            keccak256(
                abi.encode(
                    CANCEL_NONCES_TYPEHASH,
                    patient,
                    counterparty,
                    consentNonce,
                    _guardianNonce(patient, counterparty),
                    issuedAt,
                    deadline
                )
            ),
            signature
        );
        _cancelNonces(patient, counterparty);
    }

    // slither-disable-start naming-convention
    // DOMAIN_SEPARATOR is the name EIP-2612 and wallets expect.
    /// @inheritdoc ISignedConsent
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
    // slither-disable-end naming-convention

    function _cancelNonces(address patient, address counterparty) private {
        if (counterparty == address(0)) revert ZeroAddress();
        emit NoncesCancelled(
            patient, counterparty, _bumpConsentNonce(patient, counterparty), _bumpGuardianNonce(patient, counterparty)
        );
    }

    function _checkFreshness(uint64 expectedNonce, Validity calldata validity) private view {
        _checkLifetime(validity.issuedAt, validity.deadline);
        if (validity.nonce != expectedNonce) revert InvalidNonce(expectedNonce, validity.nonce);
    }

    // slither-disable-start timestamp
    // Signature lifetimes are hours to 30 days; a validator's ~15 s drift is irrelevant.
    /// @dev issuedAt <= now <= deadline and deadline - issuedAt <= MAX_SIGNATURE_LIFETIME.
    function _checkLifetime(uint256 issuedAt, uint256 deadline) private view {
        if (issuedAt > block.timestamp) revert SignatureNotYetValid(issuedAt);
        if (block.timestamp > deadline) revert SignatureExpired(deadline);
        // issuedAt <= now <= deadline here, so the subtraction cannot underflow.
        if (deadline - issuedAt > MAX_SIGNATURE_LIFETIME) revert SignatureLifetimeTooLong(issuedAt, deadline);
    }
    // slither-disable-end timestamp

    function _requireSignature(address signer, bytes32 structHash, bytes calldata signature) private view {
        if (signer == address(0)) revert ZeroAddress();
        bytes32 digest = _hashTypedDataV4(structHash);
        // The third value only details a failure already in `error`; any failure falls through to ERC-1271.
        // slither-disable-next-line unused-return
        (address recovered, ECDSA.RecoverError error,) = ECDSA.tryRecover(digest, signature);
        if (error == ECDSA.RecoverError.NoError && recovered == signer) return;
        if (!SignatureChecker.isValidERC1271SignatureNow(signer, digest, signature)) revert InvalidSignature(signer);
    }
}
