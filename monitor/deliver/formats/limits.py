"""The documented limits of each service a digest is sent to, in one place (docs/delivery.md).

Characters are counted as the services count them: Slack and Discord count characters of
the text as sent (after escaping), Teams counts bytes of the whole request body, Gmail clips
the HTML part of a message at about 102 KB. Must not hold behaviour.
"""

from __future__ import annotations

# Slack Block Kit (api.slack.com/reference/block-kit): 50 blocks per message, a section's
# text 3,000 characters, a header's plain text 150, the top-level `text` 40,000.
SLACK_BLOCKS = 50
SLACK_SECTION = 3000
SLACK_HEADER = 150
SLACK_TEXT = 40000
SLACK_CONTEXT = 2000          # a context element's text

# Discord webhooks (discord.com/developers/docs/resources/message#embed-object-embed-limits):
# content 2,000; 10 embeds; title 256; description 4,096; footer 2,048; author name 256;
# all embeds of a message together 6,000 characters.
DISCORD_CONTENT = 2000
DISCORD_EMBEDS = 10
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FOOTER = 2048
DISCORD_AUTHOR = 256
DISCORD_TOTAL = 6000

# Microsoft Teams (Workflows webhook and the retired connector): a message of about 28 KB.
TEAMS_BYTES = 28 * 1024
TEAMS_BUDGET = 27 * 1024      # what monitor fills: a margin for the service's own envelope

# Mattermost incoming webhooks: a post's message is at most 16,383 characters.
MATTERMOST_TEXT = 16383

# Email: Gmail clips an HTML part above about 102 KB; monitor keeps each part under 100 KB.
EMAIL_HTML_BYTES = 100 * 1000

# Per item, whatever the service allows: long enough for any real headline.
TITLE_CHARS = 250
SOURCE_CHARS = 120
SNIPPET_CHARS = 300
URL_CHARS = 2000              # a longer link is shown as text, not sent as a link field
