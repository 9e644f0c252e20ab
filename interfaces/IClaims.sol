// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IMedLedgerErrors} from "./IMedLedgerErrors.sol";

/// @title Insurance claims of medledger
/// @notice An insurer registers a patient's coverage (the digest of the encrypted FHIR Coverage,
/// published as a record of the patient, and the ERC-20 it pays in). A credentialed provider
/// submits a claim under it for one encounter; the insurer named in the coverage pends it for
/// information, approves an amount or denies it with a reason code; the approved amount moves from
/// the insurer's escrow to the provider's withdrawable balance; the patient or the provider may
/// appeal once; every step has a deadline fixed at deployment.
///
/// Lifecycle (round 0, then round 1 after an appeal):
///   Submitted -pend-> Pended -supplement-> Submitted (once per claim)
///   Submitted | Pended -adjudicate-> Approved | Denied;  Approved -pay-> Paid
///   Approved | Denied | Paid -appeal-> Appealed -adjudicate-> Approved | Denied | Paid (round 1: final once settled)
///   Submitted | Pended -withdrawClaim-> Withdrawn (final)
/// A Submitted claim the insurer leaves past its adjudication deadline is deemed denied: it may be
/// appealed during the appeal window that follows the deadline.
///
/// Only digests, parties, amounts, dates and status codes are stored or logged: the documents
/// (Coverage, Claim, ClaimResponse, appeal letters) are encrypted records under the patient's consent.
interface IClaims is IMedLedgerErrors {
    enum ClaimStatus {
        None,
        Submitted,
        Pended,
        Approved,
        Denied,
        Paid,
        Appealed,
        Withdrawn
    }

    /// @dev A patient's coverage with one insurer: claims for services in [start, end) are paid in `token`.
    struct Coverage {
        address patient;
        uint40 start;
        uint40 end;
        address insurer;
        address token;
    }

    /// @dev One claim as `claimOf` returns it (stored in three slots). Amounts are in the coverage
    /// token's smallest unit.
    /// `due`: the deadline of the current step (adjudication while Submitted or Appealed, the
    /// appeal window once adjudicated in round 0; zero when no step is due). `paid`: what the
    /// provider has been paid so far (an appeal decision never goes below it).
    struct Claim {
        bytes32 coverageId;
        address provider;
        uint40 serviceDate;
        uint40 due;
        ClaimStatus status;
        uint8 round;
        bool pended;
        uint96 billed;
        uint96 approved;
        uint16 reason;
        uint96 patientShare;
        uint96 paid;
    }

    event CoverageRegistered(
        bytes32 indexed coverageId,
        address indexed patient,
        address indexed insurer,
        address token,
        bytes32 digest,
        uint40 start,
        uint40 end
    );
    event CoverageEnded(bytes32 indexed coverageId, address indexed patient, address indexed insurer, uint40 end);
    /// @param digest the encrypted FHIR Claim, a record of the patient authored by the provider.
    event ClaimSubmitted(
        bytes32 indexed claimId,
        address indexed patient,
        address indexed provider,
        bytes32 coverageId,
        bytes32 encounter,
        bytes32 digest,
        uint40 serviceDate,
        uint96 billed,
        uint40 due
    );
    /// @param digest the insurer's request for information (an encrypted ClaimResponse record), zero for none.
    event ClaimPended(
        bytes32 indexed claimId, address indexed patient, address indexed insurer, uint16 reason, bytes32 digest
    );
    /// @param digest the supporting document the provider added, a record of the patient it authored.
    event ClaimSupplemented(
        bytes32 indexed claimId, address indexed patient, address indexed provider, bytes32 digest, uint40 due
    );
    /// @param status Approved, Denied or (an appeal decision that owes nothing more) Paid.
    /// @param due the end of the appeal window (round 0), zero after an appeal decision.
    /// @param digest the insurer's ClaimResponse/ExplanationOfBenefit record, zero for none.
    event ClaimAdjudicated(
        bytes32 indexed claimId,
        address indexed patient,
        address indexed insurer,
        ClaimStatus status,
        uint8 round,
        uint96 approved,
        uint96 patientShare,
        uint16 reason,
        bytes32 digest,
        uint40 due
    );
    event ClaimPaid(
        bytes32 indexed claimId,
        address indexed patient,
        address indexed provider,
        address insurer,
        address token,
        uint96 amount
    );
    /// @param digest the appeal letter (an encrypted record of the patient), zero for none.
    event ClaimAppealed(
        bytes32 indexed claimId, address indexed patient, address indexed appellant, bytes32 digest, uint40 due
    );
    event ClaimWithdrawn(bytes32 indexed claimId, address indexed patient, address indexed provider);
    event EscrowFunded(address indexed insurer, address indexed token, uint256 amount);
    event EscrowWithdrawn(address indexed insurer, address indexed token, uint256 amount);
    event PaymentWithdrawn(address indexed provider, address indexed token, uint256 amount);

    error LedgerPaused();
    error InvalidDeadline();
    error ZeroDigest();
    error ZeroAmount();
    error NotAToken(address token);
    error NotAnInsurer(address account);
    error NotABillingProvider(address account);
    error ProviderInactive(address provider);
    error SelfCoverage();
    error InvalidCoveragePeriod(uint40 start, uint40 end);
    error CoverageExists(bytes32 coverageId);
    error UnknownCoverage(bytes32 coverageId);
    error NotCoverageInsurer(bytes32 coverageId, address account);
    error DocumentNotRecorded(address patient, bytes32 digest, address author);
    error InsurerCannotRead(address patient, address insurer, uint8 category);
    error ServiceOutsideCoverage(bytes32 coverageId, uint40 serviceDate);
    error ServiceInFuture(uint40 serviceDate);
    error TimelyFilingExpired(uint40 serviceDate, uint256 deadline);
    error ClaimExists(bytes32 claimId);
    error UnknownClaim(bytes32 claimId);
    error NotClaimProvider(bytes32 claimId, address account);
    error NotClaimInsurer(bytes32 claimId, address account);
    error NotAppellant(bytes32 claimId, address account);
    error NotPayer(bytes32 claimId, address account);
    error WrongStatus(bytes32 claimId, ClaimStatus status);
    error AlreadyPended(bytes32 claimId);
    error DeadlinePassed(bytes32 claimId, uint40 due);
    error AppealNotOpen(bytes32 claimId);
    error DenialWithoutReason();
    error InvalidAmounts(uint96 approved, uint96 patientShare, uint96 billed);
    error BelowPaid(uint96 approved, uint96 paid);
    error InsufficientEscrow(address insurer, address token, uint256 needed, uint256 available);
    error NothingToWithdraw(address account, address token);

    // -- coverage ------------------------------------------------------------------------------

    /// @notice The caller, an active insurer, registers `patient`'s coverage for services in
    /// [start, end), paid in `token`. `digest` is the encrypted FHIR Coverage, which must be a record
    /// of the patient authored by the insurer: the patient's WRITE consent to the insurer is the
    /// patient's acceptance. Not while paused.
    /// @return coverageId keccak256(abi.encode(insurer, patient, digest)).
    function registerCoverage(address patient, bytes32 digest, address token, uint40 start, uint40 end)
        external
        returns (bytes32 coverageId);

    /// @notice The coverage's insurer ends it at `end` (not before now, not after its current end).
    /// Claims for earlier services can still be submitted within timely filing.
    function endCoverage(bytes32 coverageId, uint40 end) external;

    // -- claims --------------------------------------------------------------------------------

    /// @notice The caller, an active clinician or organisation, claims `billed` for the encounter
    /// `encounter` (a digest identifying it, no clinical content) on `serviceDate` under a coverage
    /// in force then, within timely filing. `digest` is the encrypted FHIR Claim: a record of the
    /// patient authored by the caller that the insurer may read for payment (HPAYMT). One claim per
    /// (coverage, provider, encounter), ever. Not while paused.
    /// @return claimId keccak256(abi.encode(coverageId, provider, encounter)).
    function submit(bytes32 coverageId, bytes32 encounter, bytes32 digest, uint40 serviceDate, uint96 billed)
        external
        returns (bytes32 claimId);

    /// @notice The coverage's insurer, active, asks for more information before its adjudication
    /// deadline (once per claim); the deadline stops until the provider answers. Not while paused.
    function pend(bytes32 claimId, uint16 reason, bytes32 digest) external;

    /// @notice The claim's provider answers a pended claim with a supporting record of the patient
    /// it authored; the insurer has a full adjudication window again. Not while paused.
    function supplement(bytes32 claimId, bytes32 digest) external;

    /// @notice The coverage's insurer, active, decides: `approved` > 0 approves (and may carry an
    /// adjustment `reason`), zero denies (with a non-zero `reason`, e.g. an X12 CARC code).
    /// `approved + patientShare <= billed`. In round 0 before the adjudication deadline (any time
    /// while pended); on appeal, before the appeal's decision deadline and never below what was paid.
    /// Not while paused.
    function adjudicate(bytes32 claimId, uint96 approved, uint96 patientShare, uint16 reason, bytes32 digest) external;

    /// @notice Moves what is approved and unpaid from the insurer's escrow to the provider's
    /// withdrawable balance. The insurer or the provider calls it; the provider must be active.
    /// An underfunded insurer's claims wait; nobody else's money is touched. Not while paused.
    function pay(bytes32 claimId) external;

    /// @notice The patient or the provider appeals, once: an adjudicated claim before its appeal
    /// deadline, or a deemed-denied one (left Submitted past its adjudication deadline) within the
    /// appeal window after it. The insurer then has one adjudication window to decide. Not while paused.
    function appeal(bytes32 claimId, bytes32 digest) external;

    /// @notice The claim's provider withdraws a claim not yet adjudicated. For good: the encounter
    /// cannot be claimed again under the same coverage.
    function withdrawClaim(bytes32 claimId) external;

    // -- settlement ----------------------------------------------------------------------------

    /// @notice The caller, an active insurer, deposits `amount` of `token` into its own escrow
    /// (after approving this contract); what arrives is credited. Not while paused.
    function fund(address token, uint256 amount) external;

    /// @notice The insurer takes `amount` of its escrow in `token` back.
    function withdrawEscrow(address token, uint256 amount) external;

    /// @notice The caller takes its whole withdrawable balance in `token` (payments for its claims).
    function withdraw(address token) external returns (uint256 amount);

    // -- reads ---------------------------------------------------------------------------------

    function coverageOf(bytes32 coverageId) external view returns (Coverage memory);

    function claimOf(bytes32 claimId) external view returns (Claim memory);

    /// @notice Whether nothing more can happen to the claim: withdrawn, or denied or paid with its
    /// appeal decided or its appeal window over (an approved, unpaid claim is never final).
    function isFinal(bytes32 claimId) external view returns (bool);

    /// @notice `insurer`'s escrow in `token`.
    function escrowOf(address insurer, address token) external view returns (uint256);

    /// @notice What `account` may withdraw in `token`.
    function withdrawable(address account, address token) external view returns (uint256);

    function coverageIdOf(address insurer, address patient, bytes32 digest) external pure returns (bytes32);

    function claimIdOf(bytes32 coverageId, address provider, bytes32 encounter) external pure returns (bytes32);
}
