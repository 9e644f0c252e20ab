// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Paid research studies of medledger
/// @notice A credentialed researcher registers a study: the digests of its protocol and of its
/// ethics-board approval (documents stored like records), the record categories it asks for, an
/// enrolment window, an end, a number of places and a reward per participant in an ERC-20 token,
/// escrowed in full at registration. A patient enrols by giving the researcher research consent on
/// MedLedger (purpose HRESCH, the study's categories, READ, until at least the study's end) and naming
/// the de-identified records they published for the study; the researcher logs each read of study
/// data here, and the first logged read of a participant's data makes the reward theirs, paid once
/// on request (pull). After the end, the places never earned return to the researcher.
/// Escrow accounting, per study: paid + refunded + earned-but-unclaimed = maxParticipants x reward.
interface IStudies is IMedLedgerErrors {
    /// @dev Open: enrolment and reads follow the windows. Suspended: a registrar stopped it (no
    /// enrolment, no reads; earned rewards are still paid). Closed: ended and refunded.
    enum StudyStatus {
        None,
        Open,
        Suspended,
        Closed
    }

    /// @dev A participant's state in one study. `accessed`: the researcher logged a read of their
    /// study data (the reward is theirs); `paid`: it was paid.
    enum ParticipantStatus {
        None,
        Enrolled,
        Withdrawn
    }

    /// @dev What a researcher registers. Documents are CIDs as in the record registry (sha2-256
    /// digest + codec 0x55 raw / 0x70 dag-pb), public or encrypted.
    struct StudyTerms {
        address token;
        uint32 maxParticipants;
        uint40 enrolmentEnd;
        uint40 end;
        uint64 categories;
        uint32 protocolCodec;
        uint32 approvalCodec;
        uint256 reward;
        bytes32 protocolDigest;
        bytes32 approvalDigest;
    }

    /// @dev A study as stored. `enrolled` counts the places taken (a participant who withdraws
    /// before any read gives the place back); `earned` counts participants whose data was read.
    struct Study {
        address researcher;
        StudyStatus status;
        uint40 registeredAt;
        uint40 enrolmentEnd;
        address token;
        uint40 end;
        uint32 maxParticipants;
        uint32 enrolled;
        uint32 earned;
        uint32 paid;
        uint64 categories;
        uint32 protocolCodec;
        uint32 approvalCodec;
        uint256 reward;
        bytes32 protocolDigest;
        bytes32 approvalDigest;
    }

    struct Participant {
        ParticipantStatus status;
        bool accessed;
        bool paid;
        uint40 enrolledAt;
        uint16 records;
    }

    /// @dev Relayed enrolment and withdrawal: the patient's nonce in this contract and a deadline.
    struct Authorization {
        uint256 nonce;
        uint256 deadline;
    }

    event StudyRegistered(
        uint256 indexed studyId,
        address indexed researcher,
        address indexed token,
        uint256 reward,
        uint32 maxParticipants,
        uint64 categories,
        uint40 enrolmentEnd,
        uint40 end,
        bytes32 protocolDigest,
        uint32 protocolCodec,
        bytes32 approvalDigest,
        uint32 approvalCodec
    );
    event StudySuspended(uint256 indexed studyId, address indexed registrar);
    event StudyReinstated(uint256 indexed studyId, address indexed registrar);
    /// @notice `digests`: the participant's de-identified study records (records of `patient` on MedLedger).
    event ParticipantEnrolled(
        uint256 indexed studyId, address indexed patient, address indexed relayer, bytes32[] digests
    );
    event ParticipantWithdrawn(uint256 indexed studyId, address indexed patient, bool placeReleased);
    /// @notice The researcher read `digest` of `patient` for the study; `first`: the reward became theirs.
    event StudyDataAccessed(
        uint256 indexed studyId, address indexed patient, bytes32 indexed digest, address researcher, bool first
    );
    event RewardPaid(uint256 indexed studyId, address indexed patient, address token, uint256 amount);
    /// @notice `patient` voided every signed Enrol and Withdraw it issued with nonce `nonce` (unrelayed).
    event SignaturesCancelled(address indexed patient, uint256 nonce);
    event StudyClosed(uint256 indexed studyId, address indexed researcher, uint256 refund, uint32 unclaimed);

    error LedgerPaused();
    error InvalidLedger(address ledger);
    error NotResearcher(address account);
    error NotRegistrar(address account);
    error InvalidTerms(string field);
    error UnsupportedToken(address token, uint256 expected, uint256 received);
    error UnknownStudy(uint256 studyId);
    error NotStudyResearcher(uint256 studyId, address account);
    error StudyNotOpen(uint256 studyId, StudyStatus status);
    error StudyNotSuspended(uint256 studyId);
    error EnrolmentClosed(uint256 studyId, uint40 enrolmentEnd);
    error StudyEnded(uint256 studyId, uint40 end);
    error StudyNotEnded(uint256 studyId, uint40 end);
    error StudyFull(uint256 studyId, uint32 maxParticipants);
    error ProviderMayNotEnrol(address account);
    error AlreadyEnrolled(uint256 studyId, address patient);
    error NotEnrolled(uint256 studyId, address patient);
    error ConsentDoesNotCoverStudy(uint256 studyId, address patient);
    error NoStudyRecords();
    error TooManyRecords(uint256 count, uint256 limit);
    error NotStudyRecord(uint256 studyId, address patient, bytes32 digest);
    error RecordNotEligible(address patient, bytes32 digest);
    error NoReadAccess(uint256 studyId, address patient, bytes32 digest);
    error NothingToClaim(uint256 studyId, address patient);
    error SignatureExpired(uint256 deadline);
    error InvalidSignature(address patient);

    /// @notice The caller, an active provider of kind Researcher, registers a study and escrows
    /// `terms.maxParticipants * terms.reward` of `terms.token` (approved beforehand) in this
    /// contract. Enrolment opens now and closes at `enrolmentEnd`; reads are logged until `end`,
    /// which is at most the ledger's `maxConsentDuration` away (so a consent can cover it).
    /// Tokens that deliver less than the amount sent (fee on transfer) are refused. Not while paused.
    /// @return studyId the new study's identifier (1, 2, ...).
    function registerStudy(StudyTerms calldata terms) external returns (uint256 studyId);

    /// @notice A registrar of the ledger suspends an open study: no enrolment, no reads; rewards
    /// already earned are still paid, and the rest is refunded after the end.
    function suspendStudy(uint256 studyId) external;

    /// @notice A registrar reinstates a suspended study (within its windows as registered).
    function reinstateStudy(uint256 studyId) external;

    /// @notice The caller enrols in an open study before its enrolment closes. Needs the caller's
    /// consent to the researcher on MedLedger covering the study (HRESCH, READ, every study
    /// category, expiry at or after the study's end) and `digests`: 1..MAX_RECORDS records of the
    /// caller on MedLedger, live, of the study's categories, registered after the study was.
    /// Registered providers may not enrol; an address enrols in a study once. Not while paused.
    function enrol(uint256 studyId, bytes32[] calldata digests) external;

    /// @notice `enrol` for `patient`, relayed by anyone with the patient's EIP-712 signature of
    /// Enrol(studyId, patient, keccak256(abi.encodePacked(digests)), nonce, deadline).
    function enrolBySig(
        uint256 studyId,
        address patient,
        bytes32[] calldata digests,
        Authorization calldata authorization,
        bytes calldata signature
    ) external;

    /// @notice The caller leaves the study for good: no later read is logged for the study and no
    /// reward is earned from then on (a reward already earned stays claimable). The consent on
    /// MedLedger is the patient's to revoke (the clients do both). Works while paused.
    function withdraw(uint256 studyId) external;

    /// @notice `withdraw` for `patient`, relayed with the patient's EIP-712 signature of
    /// Withdraw(studyId, patient, nonce, deadline). Works while paused.
    function withdrawBySig(
        uint256 studyId,
        address patient,
        Authorization calldata authorization,
        bytes calldata signature
    ) external;

    /// @notice Voids the caller's signed Enrol or Withdraw not relayed yet, by using up its current
    /// nonce (a patient who changed their mind before a relayer sent it). Works while paused.
    /// @return nonce the nonce voided.
    function cancelSignatures() external returns (uint256 nonce);

    /// @notice The study's researcher logs its read of `patient`'s study record `digest` (after,
    /// or beside, the ledger's own `logAccess` that key release requires). Needs the study open
    /// and not ended, the participant enrolled, the record one of their study records and live, and
    /// the researcher's READ access for HRESCH on the ledger now (consent, expiry, provider status).
    /// The first logged read of a participant earns their reward. Not while paused.
    function logStudyAccess(uint256 studyId, address patient, bytes32 digest) external;

    /// @notice Pays `patient` the reward they earned, once; anyone may send it (the tokens go to
    /// the patient). Works while paused and after the study closed.
    function claimReward(uint256 studyId, address patient) external;

    /// @notice After the end, returns the places never earned (`maxParticipants - earned`) x
    /// reward to the researcher and closes the study; anyone may send it. Works while paused.
    function closeStudy(uint256 studyId) external returns (uint256 refund);

    /// @notice The MedLedger whose providers, roles, consent and records this contract reads.
    function ledger() external view returns (address);

    /// @notice How many studies were registered (identifiers run 1..studyCount).
    function studyCount() external view returns (uint256);

    /// @notice The study `studyId` (researcher zero when unknown).
    function studyOf(uint256 studyId) external view returns (Study memory);

    /// @notice `patient`'s entry in study `studyId` (status None when they never enrolled).
    function participantOf(uint256 studyId, address patient) external view returns (Participant memory);

    /// @notice Whether `digest` is one of `patient`'s study records in study `studyId`.
    function isStudyRecord(uint256 studyId, address patient, bytes32 digest) external view returns (bool);

    /// @notice The next nonce of `patient`'s relayed enrolments and withdrawals.
    function nonces(address patient) external view returns (uint256);

    // DOMAIN_SEPARATOR is the name EIP-2612 and wallets expect.
    /// @notice The EIP-712 domain separator ("MedLedger Studies", "1", chain id, this contract).
    // slither-disable-next-line naming-convention
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}

/// @title What Studies reads of the ledger's roles beyond AccessControl's `hasRole`
interface ILedgerRoles {
    // REGISTRAR_ROLE is the getter Solidity generates for MedLedger's public constant: its name is fixed.
    // slither-disable-next-line naming-convention
    function REGISTRAR_ROLE() external view returns (bytes32);
}
