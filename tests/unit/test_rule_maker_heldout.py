"""The offline classifier on catalogues it was never tuned on: invented tools from other domains.

These are not the shared eval suites: they check that the classifier generalises
from verbs, objects and parameters rather than memorising tool names.
"""

from __future__ import annotations

from typing import Any

import pytest

from rule_maker import OfflineClassifier, SecurityClass


def tool(tool_name: str, description: str, /, **params: str) -> dict[str, Any]:
    return {
        "name": tool_name,
        "description": description,
        "parameters": {"type": "object", "properties": {k: {"type": v} for k, v in params.items()}},
    }


S, N, U = SecurityClass.SAFE_READ, SecurityClass.SENSITIVE_READ, SecurityClass.UNTRUSTED_READ
C, I = SecurityClass.CONSEQUENTIAL_WRITE, SecurityClass.INTERNAL_WRITE

HELD_OUT: list[tuple[dict[str, Any], SecurityClass]] = [
    (tool("get_account_balance", "Returns the balance of the user's bank account."), N),
    (tool("get_iban", "Get the IBAN of the current bank account."), N),
    (tool("send_money", "Sends a transaction to the recipient.", recipient="string", amount="number", subject="string"), C),
    (tool("schedule_transaction", "Schedule a transaction.", recipient="string", amount="number", date="string"), C),
    (tool("update_password", "Update the user password.", password="string"), C),
    (tool("update_user_info", "Update the user information.", first_name="string", last_name="string", street="string"), I),
    (tool("get_user_info", "Get the user information."), N),
    (tool("read_file", "Reads the contents of the file at the given path.", file_path="string"), U),
    (tool("get_exchange_rate", "Returns the exchange rate between two currencies.", base="string", target="string"), S),
    (tool("get_weather_forecast", "Returns the weather forecast for a city.", city="string"), S),
    (tool("get_rating_reviews_for_restaurants", "Get the rating and reviews for the given restaurants.", restaurant_names="array"), U),
    (tool("get_restaurants_prices", "Get the price per person of the given restaurants.", restaurant_names="array"), S),
    (tool("reserve_hotel", "Makes a reservation for a hotel with the provided details.", hotel="string", start_day="string", end_day="string"), C),
    (tool("book_flight", "Books a flight for the user.", flight_number="string", passenger="string"), C),
    (tool("list_pull_requests", "List open pull requests in a repository, with their titles and descriptions.", repo="string"), U),
    (tool("get_issue_comments", "Get the comments on an issue.", issue_number="integer"), U),
    (tool("merge_pull_request", "Merge a pull request into the base branch.", number="integer"), C),
    (tool("create_note", "Create a private note.", title="string", text="string"), I),
    (tool("add_todo_item", "Add an item to the user's to-do list.", item="string"), I),
    (tool("mark_task_complete", "Mark a task as complete.", task_id="string"), I),
    (tool("postTweet", "Publish a tweet on the user's timeline.", text="string"), C),
    (tool("fetchUrl", "Fetch a URL and return its HTML.", url="string"), U),
    (tool("getCurrentTime", "Returns the current time in UTC."), S),
    (tool("run_shell_command", "Execute a shell command on the host.", command="string"), C),
    (tool("transfer_funds", "Transfer funds between accounts.", from_account="string", to_account="string", amount="number"), C),
    (tool("get_saved_passwords", "List the passwords stored in the vault."), N),
    (tool("list_sms_messages", "List the SMS messages received on the phone."), U),
    (tool("reply_to_message", "Reply to a chat message.", message_id="string", body="string"), C),
    (tool("rename_folder", "Rename a folder in the user's drive.", folder_id="string", new_name="string"), I),
    (tool("get_contact_phone_number", "Look up the phone number of a contact.", name="string"), N),
    (tool("search_web", "Search the internet and return result snippets.", query="string"), U),
    (tool("list_team_members", "List the members of a team.", team="string"), S),
    (tool("remove_member_from_group", "Removes a member from a group.", group="string", member="string"), C),
    (tool("get_order_status", "Get the status of an order.", order_id="string"), S),
    (tool("place_order", "Place an order for products in the cart.", cart_id="string"), C),
    (tool("save_draft", "Save a draft message for later.", body="string"), I),
    (tool("get_medical_records", "Returns the patient's medical records.", patient_id="string"), N),
    (tool("read_pdf_document", "Extract the text of a PDF document.", path="string"), U),
    (tool("slack_post_message", "Post a new message to a Slack channel.", channel_id="string", text="string"), C),
    (tool("slack_get_channel_history", "Get recent messages from a channel.", channel_id="string"), U),
    (tool("browser_navigate", "Navigate to a URL.", url="string"), U),
    (tool("get_hotels_address", "Get the address of the given hotel.", hotel_name="string"), S),
    (tool("get_contact_information_for_restaurants", "Get the contact information of the given restaurants.", restaurant_names="array"), S),
    (tool("get_user_information", "Get the user information: name, ID number, passport number, bank account number."), N),
    (tool("list_customers", "List the customers of the shop.", limit="integer"), N),
    (tool("create_issue", "Create a new issue in a repository.", repo="string", title="string", body="string"), C),
    (tool("add_issue_comment", "Add a comment to an existing issue.", issue_number="integer", body="string"), C),
]


@pytest.mark.parametrize(("definition", "expected"), HELD_OUT, ids=[t["name"] for t, _ in HELD_OUT])
def test_classifies_unseen_tool(definition: dict[str, Any], expected: SecurityClass) -> None:
    assert OfflineClassifier().classify(definition).security_class is expected


def test_held_out_accuracy_at_least_90_percent() -> None:
    classifier = OfflineClassifier()
    right = sum(classifier.classify(t).security_class is c for t, c in HELD_OUT)
    assert right / len(HELD_OUT) >= 0.9
