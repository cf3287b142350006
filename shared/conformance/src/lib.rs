//! Conformance suites for the ports, written once and run against every adapter: SQLite always,
//! DynamoDB and SQS against a local emulator. An adapter's test file instantiates them with
//! [`case_store_suite!`] and [`queue_suite!`], giving a function that makes a fresh adapter.
//!
//! Ids are random per check, so suites may share one table or database.

pub mod accounts;
pub mod api_keys;
pub mod attachments;
pub mod delivery;
pub mod desk;
pub mod discussion;
pub mod fixtures;
pub mod instances;
pub mod moto;
pub mod opinion;
pub mod queue;
pub mod standins;
pub mod store;
pub mod story;

/// One `#[tokio::test]` per case-store check. `$make` is an async expression giving a fresh store
/// and a guard kept alive until the check ends (the SQLite suite's temporary folder, removed on drop).
#[macro_export]
macro_rules! case_store_suite {
    ($make:expr) => {
        $crate::case_store_suite!(@tests $make;
            create_then_read, idempotent_create, stale_update_changes_nothing, concurrent_updates_one_wins,
            duplicate_event_is_refused, list_by_scope_status_and_due, recent_lists_a_dispatchers_cases_newest_first,
            alarms_due_reads_only_cases_with_a_due_alarm,
            scan_pages_through_every_case, notices_are_stored_by_year,
            published_replies_are_searched_filtered_and_withdrawn,
            published_pages_continue_without_repeats, stale_publications_are_found_until_masked, counters_by_prefix, numbers_are_taken_with_the_case_without_gaps, notifications_are_deduplicated,
            calendar_versions_rise_and_recompute_finishes_once, running_deadlines_walks_each_running_case_once,
            notifications_page_newest_first, lists_continue_after_a_position, lists_filter_by_title_unit_and_deadline, urgent_cases_come_first_while_they_wait,
            merged_cases_are_found_by_their_original, a_case_is_found_by_number_with_its_trail,
            a_change_gives_back_attempts_in_its_transaction,
            a_reachable_store_is_ready);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                // The pair drops in field order: the store, then its guard.
                let fixture = $make.await;
                $crate::store::$name(&fixture.0).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per queue check. `$make` is an async expression giving a guard (as for
/// [`case_store_suite!`]) and a fresh queue that
/// knows the queues [`queue::QUEUE_A`] and [`queue::QUEUE_B`] and moves a message to the dead-letter
/// queue after [`queue::MAX_RECEIVES`] receives.
#[macro_export]
macro_rules! queue_suite {
    ($make:expr) => {
        $crate::queue_suite!(@tests $make;
            send_receive_delete, invisible_until_timeout_then_redelivered, stale_receipt_delete_is_not_an_error,
            poison_message_goes_to_dead_letters_without_blocking, unknown_queue_is_an_error, queues_are_separate,
            delayed_message_waits_for_its_delay);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make.await;
                $crate::queue::$name(&fixture.0).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per check of the `AccountStore` and `AttemptStore` ports; `$make` gives a
/// fresh adapter implementing both, and a guard (as for [`case_store_suite!`]).
#[macro_export]
macro_rules! accounts_suite {
    ($make:expr) => {
        $crate::accounts_suite!(@tests $make;
            accounts_are_stored_and_listed, a_subject_links_one_account, sessions_are_stored_and_deleted,
            attempts_count_up_to_the_limit_then_refuse, a_window_passes_and_the_key_starts_again,
            given_back_and_cleared_attempts_do_not_count, attempts_made_at_once_all_count,
            attempts_under_several_keys_count_all_or_none,
            expired_keys_and_sessions_are_purged, sign_in_is_alike_for_unknown_names_and_bounded,
            administration_ends_sessions_at_once);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make.await;
                $crate::accounts::$name(&fixture.0).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per check of the `DeliveryStore` port; `$make` as for [`case_store_suite!`].
#[macro_export]
macro_rules! delivery_suite {
    ($make:expr) => {
        $crate::delivery_suite!(@tests $make;
            a_key_is_recorded_once, one_writer_wins_each_version, due_ones_by_time_and_only_pending,
            the_log_lists_newest_first_and_dead_ones_apart);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make.await;
                $crate::delivery::$name(&fixture.0).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per check of the `TopicStore` port; `$make` as for [`case_store_suite!`].
#[macro_export]
macro_rules! topic_store_suite {
    ($make:expr) => {
        $crate::topic_store_suite!(@tests $make;
            an_entry_is_recorded_and_counted_once, topics_are_saved_once_per_version,
            open_topics_are_found_by_their_last_message, a_message_is_claimed_by_one_topic_only);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make.await;
                $crate::opinion::$name(&fixture.0).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per check of the `DiscussionStore` port; `$make` as for [`case_store_suite!`].
#[macro_export]
macro_rules! discussion_store_suite {
    ($make:expr) => {
        $crate::discussion_store_suite!(@tests $make;
            topics_are_created_once_and_listed_newest_first, comments_are_added_once_and_moderated_once);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make.await;
                $crate::discussion::$name(&fixture.0).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per check of the `OpinionDesk` port; `$make` as for [`case_store_suite!`].
#[macro_export]
macro_rules! desk_suite {
    ($make:expr) => {
        $crate::desk_suite!(@tests $make;
            items_are_created_once_and_listed_by_time, an_item_is_saved_once_per_version_and_listed_for_its_unit);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make.await;
                $crate::desk::$name(&fixture.0).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per API-key store check (Open311 keys).
#[macro_export]
macro_rules! api_key_suite {
    ($make:expr) => {
        $crate::api_key_suite!(@tests $make;
            keys_are_created_once_and_found_by_digest, keys_are_listed_oldest_first_and_revoked_once);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make.await;
                $crate::api_keys::$name(&fixture.0).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per attachment-store check.
#[macro_export]
macro_rules! attachment_store_suite {
    ($make:expr) => {
        $crate::attachment_store_suite!(@tests $make;
            files_are_stored_once_and_read_back_exactly, ids_that_are_not_digests_never_reach_storage,
            a_link_serves_the_file_with_its_type);
    };
    (@tests $make:expr; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $make.await;
                $crate::attachments::$name(&fixture.0).await;
            }
        )*
    };
}
