// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {IConsentRegistry} from "../interfaces/IConsentRegistry.sol";
import {IProviderRegistry} from "../interfaces/IProviderRegistry.sol";
import {IRecordRegistry} from "../interfaces/IRecordRegistry.sol";
import {ILedgerRoles, IStudies} from "../interfaces/IStudies.sol";
import {Scopes} from "./Scopes.sol";

/// @title Paid research studies, beside MedLedger
/// @notice Its own contract, deployed after the ledger (`constructor(ledger)`), because MedLedger is
/// not upgradeable and sits close to the EIP-170 code-size limit; it changes nothing in the ledger
/// and only reads it: the provider registry (a study's researcher is an active provider of kind
/// Researcher; registered providers may not enrol), the registrar role (registrars suspend
/// studies), consent (`consentOf` at enrolment, `hasAccess` for HRESCH at every logged read, so a
/// revocation, an expiry or the researcher's suspension on the ledger stops reads and rewards at
/// once) and records (a participant's study records are live records of theirs, of the study's
/// categories, registered after the study). It follows the ledger's circuit breaker for
/// registration, enrolment and logged reads; withdrawal, suspension, claims and refunds work
/// while the ledger is paused.
/// @dev Sybil defence: an enrolment needs an address that is no registered provider, a consent
/// covering the study and at least one de-identified record of the study's categories published
/// after the study was registered and before its enrolment closed; rewards are earned only by
/// the researcher's logged read and capped by `maxParticipants`. Fresh addresses with fabricated
/// data remain possible: the researcher sees each enrolment's metadata before it reads.
/// Escrow: every study holds `maxParticipants * reward` at registration; `paid` rewards and the
/// refund at close (places never earned) never exceed it, and an earned reward stays claimable.
/// Logged reads: a contract cannot read MedLedger's access log (`AccessLogged` is an event), so the
/// study keeps its own (`logStudyAccess`, checked against `hasAccess` for HRESCH), which the
/// clients send after the ledger's `logAccess` and before asking for the key. A researcher that
/// calls only the ledger's reads unpaid; that shows on chain (medledger's `study unlogged-reads`).
/// Every token transfer comes after the state it settles is written (checks-effects-interactions),
/// and a registration checks the balance it received, so a token that calls back finds nothing
/// left to take twice.
contract Studies is IStudies, EIP712, Nonces {
    using SafeERC20 for IERC20;

    /// @notice The most study records one enrolment names.
    uint256 public constant MAX_RECORDS = 32;

    bytes32 public constant ENROL_TYPEHASH =
        keccak256("Enrol(uint256 studyId,address patient,bytes32 digests,uint256 nonce,uint256 deadline)");
    bytes32 public constant WITHDRAW_TYPEHASH =
        keccak256("Withdraw(uint256 studyId,address patient,uint256 nonce,uint256 deadline)");

    /// @inheritdoc IStudies
    address public immutable ledger;
    /// @notice The ledger's REGISTRAR_ROLE, read once at deployment.
    bytes32 public immutable registrarRole;

    uint256 private _studyCount;
    mapping(uint256 studyId => Study) private _studies;
    mapping(uint256 studyId => mapping(address patient => Participant)) private _participants;
    /// @dev keccak256(studyId, patient, digest) => whether the digest is one of the patient's study records.
    mapping(bytes32 key => bool) private _studyRecords;

    /// @param ledger_ the MedLedger deployment this contract reads (checked: it answers REGISTRAR_ROLE).
    constructor(address ledger_) EIP712("MedLedger Studies", "1") {
        if (ledger_.code.length == 0) revert InvalidLedger(ledger_);
        ledger = ledger_;
        try ILedgerRoles(ledger_).REGISTRAR_ROLE() returns (bytes32 role) {
            registrarRole = role;
        } catch {
            revert InvalidLedger(ledger_);
        }
    }

    /// @dev Registration, enrolment and logged reads follow the ledger's circuit breaker.
    modifier whenLedgerNotPaused() {
        if (Pausable(ledger).paused()) revert LedgerPaused();
        _;
    }

    // -- researchers -----------------------------------------------------------------------

    // slither-disable-start timestamp
    // Study windows are days to years long; a validator's ~15 s drift is irrelevant.

    /// @inheritdoc IStudies
    function registerStudy(StudyTerms calldata terms) external whenLedgerNotPaused returns (uint256 studyId) {
        IProviderRegistry.Provider memory provider = IProviderRegistry(ledger).providerOf(msg.sender);
        if (
            provider.kind != IProviderRegistry.ProviderKind.Researcher
                || provider.status != IProviderRegistry.ProviderStatus.Active
        ) revert NotResearcher(msg.sender);
        uint256 deposit = _checkTerms(terms);
        studyId = ++_studyCount;
        _studies[studyId] = Study({
            researcher: msg.sender,
            status: StudyStatus.Open,
            registeredAt: uint40(block.timestamp),
            enrolmentEnd: terms.enrolmentEnd,
            token: terms.token,
            end: terms.end,
            maxParticipants: terms.maxParticipants,
            enrolled: 0,
            earned: 0,
            paid: 0,
            categories: terms.categories,
            protocolCodec: terms.protocolCodec,
            approvalCodec: terms.approvalCodec,
            reward: terms.reward,
            protocolDigest: terms.protocolDigest,
            approvalDigest: terms.approvalDigest
        });
        emit StudyRegistered(
            studyId,
            msg.sender,
            terms.token,
            terms.reward,
            terms.maxParticipants,
            terms.categories,
            terms.enrolmentEnd,
            terms.end,
            terms.protocolDigest,
            terms.protocolCodec,
            terms.approvalDigest,
            terms.approvalCodec
        );
        IERC20 token = IERC20(terms.token);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), deposit);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != deposit) revert UnsupportedToken(terms.token, deposit, received);
    }

    /// @inheritdoc IStudies
    function logStudyAccess(uint256 studyId, address patient, bytes32 digest) external whenLedgerNotPaused {
        Study storage study = _existing(studyId);
        if (msg.sender != study.researcher) revert NotStudyResearcher(studyId, msg.sender);
        if (study.status != StudyStatus.Open) revert StudyNotOpen(studyId, study.status);
        if (block.timestamp >= study.end) revert StudyEnded(studyId, study.end);
        Participant storage participant = _participants[studyId][patient];
        if (participant.status != ParticipantStatus.Enrolled) revert NotEnrolled(studyId, patient);
        if (!_studyRecords[_recordKey(studyId, patient, digest)]) revert NotStudyRecord(studyId, patient, digest);
        IRecordRegistry.Record memory record = IRecordRegistry(ledger).recordOf(patient, digest);
        if (record.erased) revert RecordNotEligible(patient, digest);
        if (!IConsentRegistry(ledger)
                .hasAccess(patient, msg.sender, record.category, Scopes.PURPOSE_HRESCH, Scopes.READ)) {
            revert NoReadAccess(studyId, patient, digest);
        }
        bool first = !participant.accessed;
        if (first) {
            participant.accessed = true;
            ++study.earned;
        }
        emit StudyDataAccessed(studyId, patient, digest, msg.sender, first);
    }

    /// @inheritdoc IStudies
    function closeStudy(uint256 studyId) external returns (uint256 refund) {
        Study storage study = _existing(studyId);
        if (study.status == StudyStatus.Closed) revert StudyNotOpen(studyId, study.status);
        if (block.timestamp < study.end) revert StudyNotEnded(studyId, study.end);
        study.status = StudyStatus.Closed;
        refund = uint256(study.maxParticipants - study.earned) * study.reward;
        emit StudyClosed(studyId, study.researcher, refund, study.earned - study.paid);
        if (refund != 0) IERC20(study.token).safeTransfer(study.researcher, refund);
    }

    // -- registrars ------------------------------------------------------------------------

    /// @inheritdoc IStudies
    function suspendStudy(uint256 studyId) external {
        _requireRegistrar();
        Study storage study = _existing(studyId);
        if (study.status != StudyStatus.Open) revert StudyNotOpen(studyId, study.status);
        study.status = StudyStatus.Suspended;
        emit StudySuspended(studyId, msg.sender);
    }

    /// @inheritdoc IStudies
    function reinstateStudy(uint256 studyId) external {
        _requireRegistrar();
        Study storage study = _existing(studyId);
        if (study.status != StudyStatus.Suspended) revert StudyNotSuspended(studyId);
        study.status = StudyStatus.Open;
        emit StudyReinstated(studyId, msg.sender);
    }

    // -- participants ----------------------------------------------------------------------

    /// @inheritdoc IStudies
    function enrol(uint256 studyId, bytes32[] calldata digests) external whenLedgerNotPaused {
        _enrol(studyId, msg.sender, digests);
    }

    /// @inheritdoc IStudies
    function enrolBySig(
        uint256 studyId,
        address patient,
        bytes32[] calldata digests,
        Authorization calldata authorization,
        bytes calldata signature
    ) external whenLedgerNotPaused {
        bytes32 structHash = keccak256(
            abi.encode(
                ENROL_TYPEHASH,
                studyId,
                patient,
                keccak256(abi.encodePacked(digests)),
                authorization.nonce,
                authorization.deadline
            )
        );
        _useSignature(patient, structHash, authorization, signature);
        _enrol(studyId, patient, digests);
    }

    /// @inheritdoc IStudies
    function withdraw(uint256 studyId) external {
        _withdraw(studyId, msg.sender);
    }

    /// @inheritdoc IStudies
    function withdrawBySig(
        uint256 studyId,
        address patient,
        Authorization calldata authorization,
        bytes calldata signature
    ) external {
        bytes32 structHash = keccak256(
            abi.encode(WITHDRAW_TYPEHASH, studyId, patient, authorization.nonce, authorization.deadline)
        );
        _useSignature(patient, structHash, authorization, signature);
        _withdraw(studyId, patient);
    }

    /// @inheritdoc IStudies
    function cancelSignatures() external returns (uint256 nonce) {
        nonce = _useNonce(msg.sender);
        emit SignaturesCancelled(msg.sender, nonce);
    }

    /// @inheritdoc IStudies
    function claimReward(uint256 studyId, address patient) external {
        Study storage study = _existing(studyId);
        Participant storage participant = _participants[studyId][patient];
        if (!participant.accessed || participant.paid) revert NothingToClaim(studyId, patient);
        participant.paid = true;
        ++study.paid;
        uint256 reward = study.reward;
        address token = study.token;
        emit RewardPaid(studyId, patient, token, reward);
        IERC20(token).safeTransfer(patient, reward);
    }

    // -- reads -----------------------------------------------------------------------------

    /// @inheritdoc IStudies
    function studyCount() external view returns (uint256) {
        return _studyCount;
    }

    /// @inheritdoc IStudies
    function studyOf(uint256 studyId) external view returns (Study memory) {
        return _studies[studyId];
    }

    /// @inheritdoc IStudies
    function participantOf(uint256 studyId, address patient) external view returns (Participant memory) {
        return _participants[studyId][patient];
    }

    /// @inheritdoc IStudies
    function isStudyRecord(uint256 studyId, address patient, bytes32 digest) external view returns (bool) {
        return _studyRecords[_recordKey(studyId, patient, digest)];
    }

    /// @inheritdoc IStudies
    function nonces(address patient) public view override(IStudies, Nonces) returns (uint256) {
        return super.nonces(patient);
    }

    // slither-disable-start naming-convention
    // DOMAIN_SEPARATOR is the name EIP-2612 and wallets expect.
    /// @inheritdoc IStudies
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
    // slither-disable-end naming-convention

    // -- internals -------------------------------------------------------------------------

    function _enrol(uint256 studyId, address patient, bytes32[] calldata digests) private {
        Study storage study = _existing(studyId);
        if (study.status != StudyStatus.Open) revert StudyNotOpen(studyId, study.status);
        if (block.timestamp >= study.enrolmentEnd) revert EnrolmentClosed(studyId, study.enrolmentEnd);
        if (patient == address(0)) revert ZeroAddress();
        Participant storage participant = _participants[studyId][patient];
        if (participant.status != ParticipantStatus.None) revert AlreadyEnrolled(studyId, patient);
        if (study.enrolled >= study.maxParticipants) revert StudyFull(studyId, study.maxParticipants);
        if (IProviderRegistry(ledger).providerOf(patient).kind != IProviderRegistry.ProviderKind.None) {
            revert ProviderMayNotEnrol(patient);
        }
        _requireConsentCovers(studyId, patient, study);
        _addStudyRecords(studyId, patient, study, digests);
        _participants[studyId][patient] =
            Participant(ParticipantStatus.Enrolled, false, false, uint40(block.timestamp), uint16(digests.length));
        ++study.enrolled;
        emit ParticipantEnrolled(studyId, patient, msg.sender, digests);
    }

    /// @dev The patient's consent to the researcher covers the study: HRESCH, READ, every study
    /// category, until the end or later; and the researcher is active on the ledger.
    function _requireConsentCovers(uint256 studyId, address patient, Study storage study) private view {
        address researcher = study.researcher;
        uint64 categories = study.categories;
        IConsentRegistry.Consent memory consent = IConsentRegistry(ledger).consentOf(patient, researcher);
        if (
            consent.categories & categories != categories || (consent.purposes >> Scopes.PURPOSE_HRESCH) & 1 == 0
                || consent.permissions & Scopes.READ == 0 || consent.expiry < study.end
                || !IProviderRegistry(ledger).isActiveProvider(researcher)
        ) revert ConsentDoesNotCoverStudy(studyId, patient);
    }

    /// @dev Each digest: a live, unamended record of the patient in a study category, registered
    /// no earlier than the study, named once.
    function _addStudyRecords(uint256 studyId, address patient, Study storage study, bytes32[] calldata digests)
        private
    {
        uint256 count = digests.length;
        if (count == 0) revert NoStudyRecords();
        if (count > MAX_RECORDS) revert TooManyRecords(count, MAX_RECORDS);
        uint64 categories = study.categories;
        uint40 registeredAt = study.registeredAt;
        for (uint256 i = 0; i < count; ++i) {
            bytes32 digest = digests[i];
            // slither-disable-next-line calls-loop
            IRecordRegistry.Record memory record = IRecordRegistry(ledger).recordOf(patient, digest);
            bytes32 key = _recordKey(studyId, patient, digest);
            if (
                record.author == address(0) || record.erased || record.superseded
                    || (categories >> record.category) & 1 == 0 || record.createdAt < registeredAt || _studyRecords[key]
            ) revert RecordNotEligible(patient, digest);
            _studyRecords[key] = true;
        }
    }

    function _withdraw(uint256 studyId, address patient) private {
        Study storage study = _existing(studyId);
        Participant storage participant = _participants[studyId][patient];
        if (participant.status != ParticipantStatus.Enrolled) revert NotEnrolled(studyId, patient);
        participant.status = ParticipantStatus.Withdrawn;
        // A place whose reward was never earned goes back to the study (and, unused, to the researcher).
        bool release = !participant.accessed;
        if (release) --study.enrolled;
        emit ParticipantWithdrawn(studyId, patient, release);
    }

    /// @dev Valid terms, and the deposit they need.
    function _checkTerms(StudyTerms calldata terms) private view returns (uint256 deposit) {
        if (terms.token.code.length == 0) revert InvalidTerms("token");
        if (terms.maxParticipants == 0) revert InvalidTerms("maxParticipants");
        if (terms.reward == 0 || terms.reward > type(uint256).max / terms.maxParticipants) {
            revert InvalidTerms("reward");
        }
        if (terms.categories == 0) revert InvalidTerms("categories");
        if (terms.enrolmentEnd <= block.timestamp) revert InvalidTerms("enrolmentEnd");
        if (terms.end <= terms.enrolmentEnd) revert InvalidTerms("end");
        // A consent runs at most maxConsentDuration from its grant: longer studies could not be covered.
        if (terms.end - block.timestamp > IConsentRegistry(ledger).maxConsentDuration()) revert InvalidTerms("end");
        if (terms.protocolDigest == bytes32(0) || !_validCodec(terms.protocolCodec)) revert InvalidTerms("protocol");
        if (terms.approvalDigest == bytes32(0) || !_validCodec(terms.approvalCodec)) revert InvalidTerms("approval");
        deposit = terms.reward * terms.maxParticipants;
    }

    /// @dev Checks the deadline and the signature (ECDSA, or ERC-1271 for contract wallets), then
    /// consumes the nonce, so a signed message works once.
    function _useSignature(
        address patient,
        bytes32 structHash,
        Authorization calldata authorization,
        bytes calldata signature
    ) private {
        if (patient == address(0)) revert ZeroAddress();
        if (block.timestamp > authorization.deadline) revert SignatureExpired(authorization.deadline);
        if (!SignatureChecker.isValidSignatureNow(patient, _hashTypedDataV4(structHash), signature)) {
            revert InvalidSignature(patient);
        }
        _useCheckedNonce(patient, authorization.nonce);
    }

    // slither-disable-end timestamp

    function _requireRegistrar() private view {
        if (!IAccessControl(ledger).hasRole(registrarRole, msg.sender)) revert NotRegistrar(msg.sender);
    }

    function _existing(uint256 studyId) private view returns (Study storage study) {
        study = _studies[studyId];
        if (study.researcher == address(0)) revert UnknownStudy(studyId);
    }

    function _recordKey(uint256 studyId, address patient, bytes32 digest) private pure returns (bytes32) {
        return keccak256(abi.encode(studyId, patient, digest));
    }

    function _validCodec(uint32 codec) private pure returns (bool) {
        return codec == Scopes.CODEC_RAW || codec == Scopes.CODEC_DAG_PB;
    }
}
