#!/usr/bin/env python3
"""Writes infra/template.yaml (the AWS SAM template) from the function, route and permission tables
below, so that routes, queues and least-privilege policies stay consistent. Run from the repo root:
    python3 scripts/gen-template.py > infra/template.yaml
Another city: python3 scripts/gen-template.py --org FILE > template-of-that-city.yaml (one hand-off
queue per jurisdiction of FILE; deploy with the parameter OrgConfig naming the file packaged with
the functions, see docs/operations.md).
"""
import json
import sys
import tomllib

ORG_FILE = "shared/domain/config/guangan.toml"
if len(sys.argv) == 3 and sys.argv[1] == "--org":
    ORG_FILE = sys.argv[2]
elif len(sys.argv) != 1:
    sys.exit("usage: gen-template.py [--org FILE]")
with open(ORG_FILE, "rb") as f:
    JURISDICTIONS = [j["id"] for j in tomllib.load(f)["jurisdictions"]]
# The table's global secondary indexes (infra/TABLE.md; shared/aws/src/dynamo.rs lists the same).
INDEXES = ["G1", "G2", "G3", "G4", "G5", "G6", "G7"]
QUEUES = ["triage", "jobs", "notify"] + [f"handoff-{j}" for j in JURISDICTIONS]
HANDOFFS = [q for q in QUEUES if q.startswith("handoff-")]
# The public site's routes (shared/app/src/web/mod.rs, site_routes) and the console's (console_routes).
SITE = [("GET", "/"), ("GET", "/static/site.css"), ("GET", "/favicon.ico"), ("GET", "/mailbox/{id}"), ("POST", "/mailbox/{id}"), ("GET", "/cases/featured"), ("GET", "/topics"), ("GET", "/topics/{id}"), ("POST", "/topics/{id}"),
        ("GET", "/track"), ("POST", "/track"), ("POST", "/track/rate"), ("GET", "/replies"), ("GET", "/replies/{number}/attachments/{n}"), ("GET", "/stats")]
CONSOLE = [("GET", "/console"), ("GET", "/console/login"), ("POST", "/console/login"), ("POST", "/console/logout"),
           ("GET", "/console/password"), ("POST", "/console/password"),
           ("GET", "/console/export"), ("GET", "/console/cases/{id}"), ("POST", "/console/cases/{id}/{action}"), ("GET", "/console/cases/{id}/attachments/{n}"),
           ("GET", "/console/supervision"), ("GET", "/console/hot"), ("POST", "/console/hot/{id}/review"), ("GET", "/console/opinion"), ("POST", "/console/opinion"), ("GET", "/console/opinion/report"), ("GET", "/console/opinion/{id}"), ("POST", "/console/opinion/{id}/{op}"), ("GET", "/console/topics"), ("POST", "/console/topics"), ("GET", "/console/topics/{id}"), ("POST", "/console/topics/{id}/comments/{comment}/{op}"), ("POST", "/console/topics/{id}/adoption"), ("GET", "/console/assessment"), ("GET", "/console/admin"), ("POST", "/console/admin/calendar"),
           ("POST", "/console/admin/accounts"), ("POST", "/console/admin/accounts/{username}/{op}"),
           ("POST", "/console/admin/api-keys"), ("POST", "/console/admin/api-keys/{id}/{op}"),
           ("POST", "/console/admin/deliveries/retry"), ("GET", "/console/notifications"), ("POST", "/console/notifications")]
# Public routes that write or guess: throttled harder than the rest (per route, across all callers).
PUBLIC_WRITES = [("POST", "/api/v1/cases"), ("POST", "/api/v1/cases/{number}/rating"), ("POST", "/mailbox/{id}"),
                 ("POST", "/track"), ("POST", "/track/rate"), ("GET", "/api/v1/cases/{number}"), ("POST", "/open311/v2/{file}")]
# Sign-in checks an argon2 hash (memory and CPU on purpose): the hardest throttle, so that a flood of
# guesses cannot fill the console's reserved instances.
SIGN_IN = [("POST", "/console/login")]
ASSIGN = ["accept", "reject", "dispatch", "decide_extension", "urge", "supervise", "reopen", "close", "feature",
          "merge", "unmerge", "publish_attachment"]
REPLY = ["receive", "return", "contribute", "report", "reply", "record_meeting", "request_extension", "explain"]
# IAM knows no action for a transaction as such: each Put, Update and Delete inside TransactWriteItems
# is allowed by PutItem, UpdateItem and DeleteItem (AWS, "Using IAM with DynamoDB transactions").
READ = ["dynamodb:GetItem", "dynamodb:Query"]
BATCH_READ = ["dynamodb:BatchGetItem"]
WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
# The partition keys (infra/TABLE.md) each function may write (dynamodb:LeadingKeys). Only the
# console writes staff accounts, subject links and sessions; the public functions write no calendar.
PUBLIC_KEYS = ["CASE#*", "SEQ#*", "IDEM#*", "CTR*", "LIMIT#*", "NOTE#*"]
# Staff-side functions also record deliveries of notifications (DLV#).
STAFF_KEYS = PUBLIC_KEYS + ["NOTICE", "DLV#*"]
# Topic-finding (舆情): the triage consumer records entries and topics; staff mark topics 已研判.
OPINION_KEYS = STAFF_KEYS + ["OPINION#*", "HOTTOPIC#*"]
# 政民互动: the public site stores citizens' comments on topics.
SITE_KEYS = PUBLIC_KEYS + ["DTOPIC#*"]
# Reserved concurrency (template parameters): public functions are capped so that a flood of public
# traffic cannot take the account's whole concurrency; the scheduled work, triage and the console
# have theirs reserved, so they run whatever the public does.
FUNCTIONS = {
    # name: (description, public routes, JWT routes, dynamodb actions, keys it may write (None: any), queues it sends to, event,
    #        concurrency parameter, timeout)
    "submit": ("Public submission, and other systems' through Open311", [("POST", "/api/v1/cases"), ("POST", "/open311/v2/{file}"), ("GET", "/api/v1/mailboxes"), ("GET", "/api/openapi.json"), ("GET", "/healthz"), ("GET", "/readyz")], [],
               READ + ["dynamodb:PutItem", "dynamodb:UpdateItem"], PUBLIC_KEYS, [], None, "PublicConcurrency", 10),
    "query": ("A citizen's own case, public replies and statistics", [("GET", "/api/v1/cases/{number}"), ("POST", "/api/v1/cases/{number}/rating"),
              ("GET", "/api/v1/public/stats"), ("GET", "/api/v1/public/replies"), ("GET", "/open311/v2/{file}"), ("GET", "/open311/v2/{collection}/{file}")], [], READ + ["dynamodb:PutItem", "dynamodb:UpdateItem"], PUBLIC_KEYS,
              [], None, "PublicConcurrency", 10),
    # Also the $default route: any path no other route takes gets the site's own "page not found".
    "site": ("The public site: pages and forms for citizens", SITE + [("ANY", "$default")], [], READ + ["dynamodb:PutItem", "dynamodb:UpdateItem"],
             SITE_KEYS, [], None, "PublicConcurrency", 10),
    "console": ("The staff console: sign-in, inbox, case pages and actions, supervision, administration", CONSOLE, [],
                READ + BATCH_READ + WRITE, None, ["jobs"], None, "ConsoleConcurrency", 29),
    "assign": ("Dispatcher actions", [], [("POST", f"/api/v1/staff/cases/{{id}}/actions/{a}") for a in ASSIGN],
               READ + WRITE, STAFF_KEYS, [], None, "StaffApiConcurrency", 10),
    "reply": ("Handling-unit actions", [], [("POST", f"/api/v1/staff/cases/{{id}}/actions/{a}") for a in REPLY], READ + WRITE, STAFF_KEYS, [], None,
              "StaffApiConcurrency", 10),
    "staff": ("Staff reads and calendar import", [], [("GET", "/api/v1/auth/me"), ("GET", "/api/v1/staff/units"), ("GET", "/api/v1/staff/inbox"),
              ("GET", "/api/v1/staff/outbox"), ("GET", "/api/v1/staff/hot-topics"), ("POST", "/api/v1/staff/hot-topics/{id}/review"), ("GET", "/api/v1/staff/assessment"), ("GET", "/api/v1/staff/cases/{id}"), ("GET", "/api/v1/staff/cases/{id}/attachments/{n}"), ("POST", "/api/v1/admin/calendar")],
              READ + BATCH_READ + WRITE, OPINION_KEYS, ["jobs"], None, "StaffApiConcurrency", 10),
    # Queue consumers that also send e-mail and SMS (3 s of sending per message at most): room for a
    # batch of 10.
    "triage": ("Consumer of the triage queue: records suggestions, compares with recent cases; finds hot topics and surges of triaged cases", [], [], READ + BATCH_READ + WRITE, OPINION_KEYS, [],
               ("sqs", ["triage"], 10), "WorkerConcurrency", 60),
    "handoff": ("Consumer of the jurisdictions' hand-off queues", [], [], READ + ["dynamodb:PutItem"], STAFF_KEYS, [], ("sqs", HANDOFFS, 10),
                "HandoffConcurrency", 60),
    # One chunk of a recomputation per invocation: up to 100 cases, so a longer time limit.
    "deadlines": ("Deadline sweep, daily digest and background jobs (recomputing deadlines after a calendar import)", [], [],
                  READ + BATCH_READ + WRITE, STAFF_KEYS, ["jobs"], ("schedule", ["jobs"], 1), "WorkerConcurrency", 60),
    "notify": ("Consumer of the notify queue: staff notifications and citizens' SMS delivered by e-mail and SMS", [], [],
               READ + ["dynamodb:PutItem"], STAFF_KEYS, [], ("sqs", ["notify"], 10), "WorkerConcurrency", 60),
    # No table access: the stream's records arrive in the event; it only publishes (PutEvents).
    "relay": ("Relay of the table's stream (domain events of committed changes) to the event bus", [], [], [], None, [], ("stream",),
              "WorkerConcurrency", 30),
}
# What each function may do with the attachments' bucket (files/<SHA-256>): the functions that take
# citizens' messages store files; those that show them sign links to them (a presigned GET is only as
# good as the signer's own permission).
# The functions that decode citizens' photos get more memory (a 40-megapixel photo is 160 MB decoded,
# and Lambda's CPU grows with its memory: decoding stays well within the time limit).
MEMORY = {"submit": 1024, "site": 1024}
S3_ACCESS = {"submit": ["s3:PutObject"], "site": ["s3:GetObject", "s3:PutObject"], "console": ["s3:GetObject"], "staff": ["s3:GetObject"]}
# The console's exports (a page of cases at a time into a file in /tmp) are handed over as objects
# under exports/ with a presigned GET, so they never pass through Lambda's 6 MB response; the
# console's timeout is API Gateway's longest (30 s) less a second, for the largest lists.
EXPORTS = ["console"]
# The functions that deliver notifications by e-mail and SMS: only they get the channels' settings and
# secrets (the public functions and the relay send nothing).
DELIVERS = ["console", "triage", "handoff", "deadlines", "notify"]
# The event bus's rules (shared/app/src/events.rs, `rules`; a test compares the two): new cases to
# triage, triaged ones back to it for topic-finding (舆情, a step of its own), and replies too (shared
# with the cases merged into them, 并单); notifications; a dispatch to
# another jurisdiction's unit to that jurisdiction's hand-off queue.
NOTIFY_TYPES = ["CaseAccepted", "CaseRejected", "CaseReplied", "CaseReplyShared", "CaseMerged", "CaseDispatched", "CaseReturned", "CaseReported",
                "CaseExtensionRequested", "CaseUrged", "CaseDueSoon", "CaseExplanationRequested", "CaseOverdue", "CaseSupervised"]
RULES = [("triage", {"source": ["mailbox"], "detail-type": ["CaseSubmitted"]}, "triage"),
         ("topics", {"source": ["mailbox"], "detail-type": ["CaseTriaged"]}, "triage"),
         ("merged", {"source": ["mailbox"], "detail-type": ["CaseReplied"]}, "triage"),
         ("notify", {"source": ["mailbox"], "detail-type": NOTIFY_TYPES}, "notify")] + [
    (f"handoff-{j}", {"source": ["mailbox"], "detail-type": ["CaseDispatched"], "detail": {"handoff": [j]}}, f"handoff-{j}")
    for j in JURISDICTIONS]
# Each SQS event source runs at most this many batches at once (Lambda's minimum), so the sources of
# a consumer never need more instances than its reserved concurrency: a throttled poll would count as
# a receive and could dead-letter a message never handled.
SQS_CONCURRENCY = 2
CONCURRENCY = {
    "PublicConcurrency": (50, "Most concurrent instances of each public function (submit, query, site); caps a flood of public traffic"),
    "ConsoleConcurrency": (10, "Concurrency reserved for the staff console"),
    "StaffApiConcurrency": (10, "Concurrency reserved for each staff API function (assign, reply, staff)"),
    "WorkerConcurrency": (5, "Concurrency reserved for each of the triage, notify, relay and deadlines workers (each of their SQS sources runs at most 2 batches at once)"),
    "HandoffConcurrency": (14, "Concurrency reserved for the handoff worker (7 hand-off queues, at most 2 batches each)"),
}

def res(name):
    return "".join(p.capitalize() for p in name.replace("_", "-").split("-"))

out = []
w = out.append
w("""# AWS deployment of the Mayor's Mailbox (市长信箱). Generated by scripts/gen-template.py — edit that.
# Build: cargo lambda build --profile release-lambda --arm64 (binaries in target/lambda/<function>/),
# then sam deploy.
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Description: Mayor's Mailbox — Lambda functions, DynamoDB table, SQS hand-off queues, EventBridge schedules, HTTP API

Parameters:
  JwtIssuer:
    Type: String
    Description: Issuer URL of the organisation's OIDC provider (checked by API Gateway)
  JwtAudience:
    Type: String
    Description: Audience (client id) the staff tokens are issued for
  AlarmEmail:
    Type: String
    Default: ""
    Description: E-mail address subscribed to the alarm topic (empty - subscribe later, e.g. an SMS gateway)
  PublicRateLimit:
    Type: Number
    Default: 20
    Description: Requests per second each public write route accepts (submission, rating, tracking, sign-in), across all callers
  PublicBurstLimit:
    Type: Number
    Default: 40
    Description: Burst of requests each public write route accepts
  SignInRateLimit:
    Type: Number
    Default: 5
    Description: Sign-ins per second the console accepts, across all callers (each checks an argon2 hash)
  SignInBurstLimit:
    Type: Number
    Default: 10
    Description: Burst of sign-ins the console accepts
  RateLimit:
    Type: Number
    Default: 200
    Description: Requests per second every other route accepts
  BurstLimit:
    Type: Number
    Default: 400
    Description: Burst of requests every other route accepts
  LogRetentionDays:
    Type: Number
    Default: 180
    AllowedValues: [30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
    Description: Days the functions' logs are kept (they hold case ids, never personal data)
  OrgConfig:
    Type: String
    Default: ""
    Description: Path of the city's organisation file inside the functions' package (e.g. /var/task/org.toml); empty - the built-in Guang'an organisation
  RestoredTableName:
    Type: String
    Default: ""
    Description: After a point-in-time restore, the name of the restored table; the functions then use it instead of the stack's own table (docs/operations.md)
  RestoredTableStreamArn:
    Type: String
    Default: ""
    Description: With RestoredTableName, the ARN of the restored table's stream (enable it, new images, before deploying; docs/operations.md)
  SmtpUrl:
    Type: String
    Default: ""
    NoEcho: true
    Description: "E-mail of notifications: SES's SMTP interface with its SMTP credentials, e.g. smtp://USER:PASSWORD@email-smtp.REGION.amazonaws.com:587?tls=required (empty: no e-mail)"
  MailFrom:
    Type: String
    Default: ""
    Description: "Sender of those e-mails, e.g. 市长信箱 <noreply@mailbox.example.gov.cn> (a verified SES identity)"
  SmsGatewayUrl:
    Type: String
    Default: ""
    Description: The SMS gateway's SendSms endpoint (empty - no SMS)
  SmsKeyId:
    Type: String
    Default: ""
    Description: The SMS gateway's key id
  SmsKeySecret:
    Type: String
    Default: ""
    NoEcho: true
    Description: The SMS gateway's secret
  SmsSignName:
    Type: String
    Default: 广安市长信箱
    Description: The signature registered with the SMS gateway
  SmsTemplates:
    Type: String
    Default: ""
    Description: Template codes the SMS gateway assigned, name=code,... (docs/notifications.md)""")
for name, (default, desc) in CONCURRENCY.items():
    w(f"""  {name}:
    Type: Number
    Default: {default}
    Description: {desc}""")
w("""
Conditions:
  HasAlarmEmail: !Not [!Equals [!Ref AlarmEmail, ""]]
  UseRestoredTable: !Not [!Equals [!Ref RestoredTableName, ""]]

Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
    Architectures: [arm64]
    MemorySize: 256
    Timeout: 10
    LoggingConfig:
      LogFormat: JSON
    Environment:
      Variables:
        TABLE_NAME: !If [UseRestoredTable, !Ref RestoredTableName, !Ref Table]
        ATTACHMENTS_BUCKET: !Ref AttachmentsBucket
        ORG_CONFIG: !Ref OrgConfig
        QUEUE_PREFIX: !Sub "${AWS::StackName}-"
        QUEUE_URL_PREFIX: !Sub "https://sqs.${AWS::Region}.${AWS::URLSuffix}/${AWS::AccountId}/"
        RUST_LOG: info

Resources:
  # Citizens' attachments (docs/attachments.md): private, encrypted, TLS only; objects are written once
  # under their SHA-256 and read through links signed by the functions.
  AttachmentsBucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: AES256
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      OwnershipControls:
        Rules:
          - ObjectOwnership: BucketOwnerEnforced
      VersioningConfiguration:
        Status: Enabled
      LifecycleConfiguration:
        Rules:
          # Files are kept as long as their cases; after half a year they are seldom opened.
          - Id: seldom-opened
            Status: Enabled
            Prefix: files/
            Transitions:
              - StorageClass: STANDARD_IA
                TransitionInDays: 180
          # An overwritten or deleted version (an operator's mistake) can be restored for 30 days.
          - Id: old-versions
            Status: Enabled
            NoncurrentVersionExpiration:
              NoncurrentDays: 30
          - Id: unfinished-uploads
            Status: Enabled
            AbortIncompleteMultipartUpload:
              DaysAfterInitiation: 1
          # Staff exports are fetched once, within minutes.
          - Id: exports
            Status: Enabled
            Prefix: exports/
            ExpirationInDays: 1
            NoncurrentVersionExpiration:
              NoncurrentDays: 1
  AttachmentsBucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref AttachmentsBucket
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: TlsOnly
            Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource:
              - !GetAtt AttachmentsBucket.Arn
              - !Sub "${AttachmentsBucket.Arn}/*"
            Condition:
              Bool:
                aws:SecureTransport: false
  Table:
    Type: AWS::DynamoDB::Table
    DeletionPolicy: Retain
    UpdateReplacePolicy: Retain
    Properties:
      BillingMode: PAY_PER_REQUEST
      PointInTimeRecoverySpecification:
        PointInTimeRecoveryEnabled: true
      SSESpecification:
        SSEEnabled: true
      TimeToLiveSpecification:
        AttributeName: ttl
        Enabled: true
      # New items to the relay: each audit event's item carries its domain event.
      StreamSpecification:
        StreamViewType: NEW_IMAGE
      AttributeDefinitions:
        - {AttributeName: PK, AttributeType: S}
        - {AttributeName: SK, AttributeType: S}""")
for g in INDEXES:
    w(f"        - {{AttributeName: {g}PK, AttributeType: S}}\n        - {{AttributeName: {g}SK, AttributeType: S}}")
w("""      KeySchema:
        - {AttributeName: PK, KeyType: HASH}
        - {AttributeName: SK, KeyType: RANGE}
      GlobalSecondaryIndexes:""")
for g in INDEXES:
    w(f"""        - IndexName: {g}-index
          KeySchema:
            - {{AttributeName: {g}PK, KeyType: HASH}}
            - {{AttributeName: {g}SK, KeyType: RANGE}}
          Projection: {{ProjectionType: ALL}}""")
def dead_letters_alarm(r, description):
    """The alarm of dead-letter queue `<r>DeadLetters`: any message in it."""
    return f"""  {r}DeadLettersAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: "{description}"
      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions:
        - {{Name: QueueName, Value: !GetAtt {r}DeadLetters.QueueName}}
      Statistic: Maximum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlarmTopic]
      OKActions: [!Ref AlarmTopic]"""
# A queue's visibility timeout is six times the longest time limit of a function consuming it
# (AWS's advice for Lambda event sources), so a message is not handed out again while still handled.
def consumer_timeout(q):
    return max((f[8] for f in FUNCTIONS.values() if f[6] and len(f[6]) > 1 and q in f[6][1]), default=10)
for q in QUEUES:
    r = res(q)
    w(f"""
  {r}DeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${{AWS::StackName}}-{q}-dlq"
      MessageRetentionPeriod: 1209600
      SqsManagedSseEnabled: true
  {r}Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${{AWS::StackName}}-{q}"
      VisibilityTimeout: {6 * consumer_timeout(q)}
      SqsManagedSseEnabled: true
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt {r}DeadLetters.Arn
        maxReceiveCount: 5
{dead_letters_alarm(r, f"Messages in the dead-letter queue of {q}: see the README, 'Dead letters', to read and redrive them")}""")
w("""
  EventBus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub "${AWS::StackName}-events"
  EventArchive:
    Type: AWS::Events::Archive
    Properties:
      Description: Every domain event published on the bus, for replay to a consumer that missed some
      SourceArn: !GetAtt EventBus.Arn
      RetentionDays: 365
  RelayDeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-relay-dlq"
      MessageRetentionPeriod: 1209600
      SqsManagedSseEnabled: true
""" + dead_letters_alarm("Relay", "Stream batches the relay gave up on (their events are in the table; see docs/events.md to publish them again)"))
# An event EventBridge could not put on a target's queue (retried for a day) waits here, with its alarm.
w("""  EventsDeadLetters:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-events-dlq"
      MessageRetentionPeriod: 1209600
      SqsManagedSseEnabled: true
""" + dead_letters_alarm("Events", "Events the bus could not deliver to a queue (see docs/events.md)"))
for name, pattern, queue in RULES:
    r = res(name)
    w(f"""  {r}Rule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref EventBus
      EventPattern: {json.dumps(pattern, separators=(", ", ": "))}
      Targets:
        - Id: {queue}
          Arn: !GetAtt {res(queue)}Queue.Arn
          RetryPolicy:
            MaximumRetryAttempts: 185
            MaximumEventAgeInSeconds: 86400
          DeadLetterConfig:
            Arn: !GetAtt EventsDeadLetters.Arn""")
w(f"""  EventsDeadLettersPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref EventsDeadLetters]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{Service: events.amazonaws.com}}
            Action: sqs:SendMessage
            Resource: !GetAtt EventsDeadLetters.Arn
            Condition:
              ArnEquals:
                aws:SourceArn: [{", ".join(f"!GetAtt {res(n)}Rule.Arn" for n, _, _ in RULES)}]""")
# Only the bus's rules may send to the queues they target.
for queue in sorted({q for _, _, q in RULES}):
    rules_of = [res(n) for n, _, q in RULES if q == queue]
    w(f"""  {res(queue)}QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref {res(queue)}Queue]
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{Service: events.amazonaws.com}}
            Action: sqs:SendMessage
            Resource: !GetAtt {res(queue)}Queue.Arn
            Condition:
              ArnEquals:
                aws:SourceArn: [{", ".join(f"!GetAtt {r}Rule.Arn" for r in rules_of)}]""")
w("""
  AlarmTopic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: Mayor's Mailbox alarms
      KmsMasterKeyId: alias/aws/sns
  AlarmEmailSubscription:
    Type: AWS::SNS::Subscription
    Condition: HasAlarmEmail
    Properties:
      TopicArn: !Ref AlarmTopic
      Protocol: email
      Endpoint: !Ref AlarmEmail

  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefaultRouteSettings:
        ThrottlingBurstLimit: !Ref BurstLimit
        ThrottlingRateLimit: !Ref RateLimit
      RouteSettings:""")
for method, path in PUBLIC_WRITES:
    w(f"""        "{method} {path}":
          ThrottlingBurstLimit: !Ref PublicBurstLimit
          ThrottlingRateLimit: !Ref PublicRateLimit""")
for method, path in SIGN_IN:
    w(f"""        "{method} {path}":
          ThrottlingBurstLimit: !Ref SignInBurstLimit
          ThrottlingRateLimit: !Ref SignInRateLimit""")
w("""      Auth:
        Authorizers:
          Staff:
            IdentitySource: $request.header.Authorization
            JwtConfiguration:
              issuer: !Ref JwtIssuer
              audience:
                - !Ref JwtAudience""")
for name, (desc, public, jwt, ddb, keys, sends, event, concurrency, timeout) in FUNCTIONS.items():
    r = res(name)
    w(f"""
  {r}Function:
    Type: AWS::Serverless::Function
    Properties:
      Description: "{desc}"
      CodeUri: ../target/lambda/{name}/
      ReservedConcurrentExecutions: !Ref {concurrency}""")
    if timeout != 10:
        w(f"      Timeout: {timeout}")
    if name in MEMORY:
        w(f"      MemorySize: {MEMORY[name]}")
    if name in DELIVERS:
        w("""      Environment:
        Variables:
          SMTP_URL: !Ref SmtpUrl
          MAIL_FROM: !Ref MailFrom
          SMS_GATEWAY_URL: !Ref SmsGatewayUrl
          SMS_KEY_ID: !Ref SmsKeyId
          SMS_KEY_SECRET: !Ref SmsKeySecret
          SMS_SIGN_NAME: !Ref SmsSignName
          SMS_TEMPLATES: !Ref SmsTemplates""")
    reads = sorted(a for a in set(ddb) if a not in WRITE)
    writes = sorted(a for a in set(ddb) if a in WRITE)
    if not ddb:
        # The relay: publishes on the bus; Lambda reads the stream for it (SAM adds the stream's
        # read permissions with the event source) and sends batches given up on to its DLQ.
        w(f"""      Environment:
        Variables:
          EVENT_BUS_NAME: !Ref EventBus
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [events:PutEvents]
              Resource: !GetAtt EventBus.Arn
            - Effect: Allow
              Action: [sqs:SendMessage]
              Resource: !GetAtt RelayDeadLetters.Arn
      Events:
        Stream:
          Type: DynamoDB
          Properties:
            Stream: !If [UseRestoredTable, !Ref RestoredTableStreamArn, !GetAtt Table.StreamArn]
            StartingPosition: TRIM_HORIZON
            BatchSize: 100
            MaximumBatchingWindowInSeconds: 1
            MaximumRetryAttempts: 50
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{{"eventName": ["INSERT"], "dynamodb": {{"NewImage": {{"domain": {{"S": [{{"exists": true}}]}}}}}}}}'
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt RelayDeadLetters.Arn""")
    else:
      w(f"""      Policies:
        - Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: [{", ".join(reads)}]
              Resource:
                - !If [UseRestoredTable, !Sub "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{RestoredTableName}}", !GetAtt Table.Arn]
                - !If [UseRestoredTable, !Sub "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{RestoredTableName}}/index/*", !Sub "${{Table.Arn}}/index/*"]
            - Effect: Allow
              Action: [{", ".join(writes)}]
              Resource:
                - !If [UseRestoredTable, !Sub "arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{RestoredTableName}}", !GetAtt Table.Arn]""")
    if keys:
        w(f"""              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: [{", ".join(f'"{k}"' for k in keys)}]""")
    if name in S3_ACCESS:
        bucket_objects = '!Sub "${AttachmentsBucket.Arn}/files/*"'
        w(f"""            - Effect: Allow
              Action: [{", ".join(S3_ACCESS[name])}]
              Resource: {bucket_objects}""")
    if name in EXPORTS:
        w('            - Effect: Allow\n'
          '              Action: [s3:PutObject, s3:GetObject]\n'
          '              Resource: !Sub "${AttachmentsBucket.Arn}/exports/*"')
    # No sqs:GetQueueUrl: the functions build queue URLs from QUEUE_URL_PREFIX.
    if sends:
        w("""            - Effect: Allow
              Action: [sqs:SendMessage]
              Resource:""")
        for q in sends:
            w(f"                - !GetAtt {res(q)}Queue.Arn")
    events = []
    for i, (method, path) in enumerate(public):
        events.append(f"""        Public{i}:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: {method}
            Path: {path}""")
    for i, (method, path) in enumerate(jwt):
        events.append(f"""        Staff{i}:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: {method}
            Path: {path}
            Auth:
              Authorizer: Staff""")
    if event and event[0] == "sqs":
        for q in event[1]:
            events.append(f"""        {res(q)}:
          Type: SQS
          Properties:
            Queue: !GetAtt {res(q)}Queue.Arn
            BatchSize: {event[2]}
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig:
              MaximumConcurrency: {SQS_CONCURRENCY}""")
    if event and event[0] == "schedule":
        events.append("""        Sweep:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(15 minutes)
        Digest:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 9 * * ? *)
            ScheduleExpressionTimezone: Asia/Shanghai
            Input: '{"job": "digest"}'""")
        for q in event[1]:
            events.append(f"""        {res(q)}:
          Type: SQS
          Properties:
            Queue: !GetAtt {res(q)}Queue.Arn
            BatchSize: {event[2]}
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig:
              MaximumConcurrency: {SQS_CONCURRENCY}""")
    if events:
        w("      Events:\n" + "\n".join(events))
    # The function's log group, made here so it has a retention and a filter: every line the code
    # logs at ERROR level (a case the deadline sweep could not act on, a triage or hand-off message
    # not sent) counts in one metric with one alarm, even when the invocation itself succeeds.
    w(f"""  {r}LogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "/aws/lambda/${{{r}Function}}"
      RetentionInDays: !Ref LogRetentionDays
  {r}ErrorLines:
    Type: AWS::Logs::MetricFilter
    Properties:
      LogGroupName: !Ref {r}LogGroup
      FilterPattern: '{{ $.level = "ERROR" }}'
      MetricTransformations:
        - MetricNamespace: MayorsMailbox
          MetricName: ErrorLines
          MetricValue: "1"
          DefaultValue: 0""")
    for metric, what in [("Errors", "failed invocations"), ("Throttles", "throttled invocations")]:
        w(f"""  {r}{metric}Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: "{name}: {what}"
      Namespace: AWS/Lambda
      MetricName: {metric}
      Dimensions:
        - {{Name: FunctionName, Value: !Ref {r}Function}}
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlarmTopic]""")
w("""  ErrorLinesAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: "A function logged an error (search the functions' logs for level ERROR)"
      Namespace: MayorsMailbox
      MetricName: ErrorLines
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlarmTopic]
  Api5xxAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmDescription: "HTTP API: answers with status 5xx (an error a function answered itself, or one it could not answer)"
      Namespace: AWS/ApiGateway
      MetricName: 5xx
      Dimensions:
        - {Name: ApiId, Value: !Ref Api}
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      TreatMissingData: notBreaching
      AlarmActions: [!Ref AlarmTopic]

Outputs:
  ApiUrl:
    Description: Base URL of the HTTP API (the public site at /, the console at /console)
    Value: !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
  TableName:
    Value: !If [UseRestoredTable, !Ref RestoredTableName, !Ref Table]
  AlarmTopicArn:
    Description: Subscribe the city's operators (e-mail, SMS) to this topic
    Value: !Ref AlarmTopic""")
print("\n".join(out))
