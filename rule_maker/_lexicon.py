"""General English vocabulary of tool APIs: verbs, the objects they act on, and parameter names.

This is domain knowledge about what kinds of things tools do, not knowledge of any
particular catalogue: it must never name a specific tool, suite, product or
attacker value, because the classifier is measured on catalogues it has never seen.
Words are stored in their singular, lower-case form (see ``_features.normalise``).
"""

from __future__ import annotations

# Verbs that only look at state.
READ_VERBS = frozenset(
    """get read list search find fetch retrieve query lookup look show view check count describe
    inspect browse download load open return see scan summarize summarise peek poll watch monitor
    explore calculate compute convert estimate translate analyze analyse lookup display print
    obtain access extract parse preview recommend suggest filter sort compare navigate visit""".split()
)

# Verbs that change state but, by themselves, only the caller's own state.
WRITE_VERBS = frozenset(
    """create add append update edit modify write save set rename move copy mark tag label insert
    store put change make star pin archive draft note record log upload enable disable configure
    organize organise complete assign attach link register schedule reschedule replace patch transition
    increment decrement reset toggle import generate prepare fill accept decline join leave
    clear restore undo reorder""".split()
)

# Verbs whose effect reaches other people, money or irreversibly destroys data.
CONSEQUENTIAL_VERBS = frozenset(
    """send post publish share invite transfer pay purchase buy order book reserve delete remove
    cancel revoke grant kick ban forward reply tweet execute run deploy submit withdraw refund
    approve sign call dial text sms email mail message notify broadcast wire trade sell charge
    subscribe unsubscribe destroy erase purge wipe terminate kill shutdown merge push release
    donate rent hire fire expel evict unshare exfiltrate upvote retweet like follow unfollow click press
    block suspend deactivate close transmit dispatch announce place checkout
    drop trash uninstall truncate unlink""".split()
)

# Prepositions that end the object phrase of a snake_case name (get_users_in_channel).
PREPOSITIONS = frozenset("in from by to for of with on at into onto within via about per".split())

# Objects whose content third parties can write: prompt-injection vectors.
UNTRUSTED_OBJECTS = frozenset(
    """email mail inbox message dm chat conversation thread channel room forum comment review post
    feed tweet article news webpage page web website site url link html internet file document doc
    attachment drive event calendar appointment meeting invitation ticket issue transaction
    notification reply story blog wiki readme pdf spreadsheet sheet slide upload content text body
    snippet result note memo letter transcript voicemail sms submission answer question feedback
    testimonial announcement bulletin listing ad advert sender author request description caption bio""".split()
)

# Objects that are private to the user but not written by outsiders.
SENSITIVE_OBJECTS = frozenset(
    """contact addressbook balance account iban password credential secret token key apikey profile
    personal salary payroll medical health diagnosis prescription ssn passport
    card payment bank identity birthday phone location address tax invoice statement pin otp
    code session cookie wallet portfolio insurance record history preference setting debt loan
    mortgage income expense budget customer patient employee client applicant outbox""".split()
)

# Objects that are public or low-value: nothing private, no free text from outsiders.
SAFE_OBJECTS = frozenset(
    """day date time clock timezone weather forecast price rate currency exchange user member
    participant people person name status version count capacity availability holiday distance
    route unit catalog catalogue menu hour year month week today now city country region zone
    schedule opening temperature stock quote symbol category type option size dimension
    direction map coordinate rating cuisine""".split()
)

# Modifiers saying the objects were authored by the user (sent_emails, draft_messages).
SELF_AUTHORED = frozenset("sent draft drafts outgoing outbox own my mine saved scheduled authored".split())

# Modifiers saying the objects arrived from others (unread_emails, received_messages).
RECEIVED = frozenset("unread received incoming inbound new latest recent shared public external".split())

# People, in a parameter or as the object of a write: the write reaches someone else.
PERSON_WORDS = frozenset(
    """recipient to cc bcc email participant user member invitee attendee guest collaborator
    follower friend customer client contact assignee reviewer audience subscriber payee
    beneficiary receiver addressee""".split()
)

# People as the object of a write (add_user_to_group, remove_member): it reaches someone else.
PERSON_OBJECTS = PERSON_WORDS - {"to", "cc", "bcc", "email", "contact"}

# Parameters that mean money, credentials, access or the outside world in a write.
CONSEQUENTIAL_PARAMS = frozenset(
    """amount iban account payment price cost fee url password credential permission role access
    phone card quantity currency recipient bcc cc to webhook endpoint domain""".split()
)

# Description words for side effects that reach others or cannot be undone.
# Matched as word prefixes, so "notif" covers notify, notifying, notification.
CONSEQUENTIAL_HINTS = (
    "send", "notif", "invit", "permanent", "irreversib", "public", "extern", "money", "payment",
    "transfer", "publish", "broadcast", "purchas", "charg", "grant",
)

# Objects of a write that mean money, credentials or access (update_password, update_transaction).
CONSEQUENTIAL_OBJECTS = frozenset(
    """transaction payment transfer order password credential permission role access key token
    account subscription booking reservation money fund wallet card iban""".split()
)

# Parameters that carry the body of a write (content, body) or a query of a read.
CONTENT_PARAMS = frozenset("content body text message data value payload note comment".split())
QUERY_PARAMS = frozenset("query search keyword keywords filter term terms q".split())

# Verbs that destroy or take away: no undo, and often a goal of an injection on its own.
DESTRUCTIVE_VERBS = frozenset(
    """delete remove erase purge wipe destroy drop revoke terminate kill kick ban expel evict
    unshare trash deactivate suspend uninstall reset truncate unlink""".split()
)

# Parameters a read has no use for: who receives something, a command to run, a secret to set.
# A tool whose name says it reads but that takes one of these may be a write in disguise.
ACTION_PARAMS = frozenset(
    "recipient payee beneficiary receiver addressee command cmd script shell password passphrase".split()
)

# Words that join a second action onto a name (check_and_transfer, get_status_then_wipe_disk).
NAME_CONJUNCTIONS = frozenset("and then or plus also".split())


# Heads that only say "details of": the modifier says whose (user_info is personal, flight_info is not).
INFO_HEADS = frozenset("info information detail details data profile".split())

# Heads that are a collection of their modifier (channel_history, message_list): the modifier decides.
CONTAINER_HEADS = frozenset("history list log summary overview collection set batch page".split())

# Organisations and places whose contact details and addresses are public (a hotel's address).
PUBLIC_ENTITIES = frozenset(
    """hotel restaurant company business store shop venue place airport station museum attraction
    agency airline office branch organization organisation vendor supplier brand school university
    hospital library park theater theatre cinema bar cafe""".split()
)

# Objects of a write that other people read: creating one is communicating.
COMMUNICATION_OBJECTS = frozenset(
    "message comment issue post tweet reply review email mail invitation announcement status story".split()
)
