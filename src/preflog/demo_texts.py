"""The text tables of the demo project (:mod:`preflog.demo`): prompts, answers and annotator notes.

Each :class:`Topic` has a thorough answer and a brief one; :mod:`preflog.demo` derives weaker
answers from them (hedged, truncated, off target, refused), so better models show better text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Topic:
    category: str
    subject: str
    prompt: str
    good: str
    brief: str


TOPICS: Final = (
    Topic(
        "coding",
        "reversing a list in Python",
        "How do I reverse a list in Python without modifying the original?",
        "Use slicing, which returns a new list:\n\n```python\nitems = [1, 2, 3]\n"
        "reversed_items = items[::-1]\n```\n\n"
        "If you only need to iterate, `reversed(items)` gives an iterator without copying. "
        "`items.reverse()` reverses **in place**, so avoid it when the original must stay intact.",
        "Use `items[::-1]`; it returns a reversed copy.",
    ),
    Topic(
        "coding",
        "SQL joins",
        "What is the difference between an INNER JOIN and a LEFT JOIN?",
        "- **INNER JOIN** keeps only rows that have a match in both tables.\n"
        "- **LEFT JOIN** keeps every row of the left table; where the right table has no match, its "
        "columns are `NULL`.\n\nExample: listing customers with their orders, a LEFT JOIN also shows "
        "customers who never ordered.",
        "INNER JOIN returns matching rows only; LEFT JOIN also keeps unmatched rows from the left table.",
    ),
    Topic(
        "coding",
        "Python virtual environments",
        "Why should I use a virtual environment for Python projects?",
        "A virtual environment gives each project its own interpreter and packages, so:\n\n"
        "1. Projects can pin different versions of the same library.\n"
        "2. You never need `sudo pip`, which can break system tools.\n"
        "3. `pip freeze` lists exactly what the project uses, which makes builds reproducible.\n\n"
        "Create one with `python -m venv .venv` and activate it with `source .venv/bin/activate`.",
        "It isolates each project's packages so versions don't clash.",
    ),
    Topic(
        "coding",
        "git rebase versus merge",
        "Should I use git rebase or git merge to update my feature branch?",
        "Both bring in upstream changes; they differ in history.\n\n"
        "| | merge | rebase |\n|---|---|---|\n| history | keeps a merge commit | linear |\n"
        "| rewrites commits | no | yes |\n| safe on shared branches | yes | no |\n\n"
        "Rebase a private branch before opening a pull request; merge when others already pulled it.",
        "Rebase for a clean linear history on private branches, merge on shared ones.",
    ),
    Topic(
        "coding",
        "regular expressions for email",
        "Write a regex that checks if a string looks like an email address.",
        'A pragmatic check (not full RFC 5322):\n\n```python\nimport re\nEMAIL = re.compile(r"^[^@\\s]+@'
        '[^@\\s]+\\.[^@\\s]+$")\nEMAIL.match("ada@example.org") is not None  # True\n```\n\n'
        "It requires one `@` and a dot in the domain. The only real test is sending a confirmation mail.",
        "Try `^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$`.",
    ),
    Topic(
        "coding",
        "off-by-one errors",
        "My loop `for i in range(1, len(xs))` skips the first element. Why?",
        "`range(1, n)` starts at 1, and Python lists start at index 0, so `xs[0]` is never visited. "
        "Use `range(len(xs))`, or better, iterate directly: `for x in xs:`. If you need the index too, "
        "`for i, x in enumerate(xs):`.",
        "Because indexing starts at 0; use `range(len(xs))`.",
    ),
    Topic(
        "coding",
        "async in JavaScript",
        "Explain async/await in JavaScript to a beginner.",
        "`async` marks a function that returns a Promise. Inside it, `await` pauses that function until a "
        "Promise settles, without blocking the rest of the page.\n\n```js\nasync function load() {\n"
        "  const res = await fetch('/api/items');\n  return res.json();\n}\n```\n\nWrap awaits in "
        "`try/catch` to handle errors, just like synchronous code.",
        "`await` waits for a Promise inside an `async` function without blocking.",
    ),
    Topic(
        "coding",
        "Big-O of dictionary lookups",
        "What is the time complexity of looking up a key in a Python dict?",
        "Average **O(1)**: the key's hash picks a slot directly. The worst case is O(n) when many keys "
        "collide, which practically never happens with built-in types thanks to hash randomization.",
        "O(1) on average.",
    ),
    Topic(
        "writing",
        "a polite follow-up email",
        "Write a short, polite follow-up email to a recruiter I haven't heard back from in two weeks.",
        "Subject: Following up on the Data Analyst application\n\nHi Maria,\n\nI hope you're well. I wanted "
        "to follow up on my application for the Data Analyst role, submitted on March 3. I'm still very "
        "interested and would be glad to share anything else that helps.\n\nThank you for your time,\n"
        "Sam",
        "Hi Maria, just checking in on my application from two weeks ago. Still very interested! Thanks, Sam",
    ),
    Topic(
        "writing",
        "a product description",
        "Write a two-sentence product description for a reusable insulated water bottle.",
        "Keep drinks ice-cold for 24 hours or hot for 12 with double-wall vacuum insulation in a "
        "leak-proof, dishwasher-safe steel bottle. Light enough for the daily commute and tough enough "
        "for the trail, it replaces hundreds of plastic bottles a year.",
        "An insulated steel bottle that keeps drinks cold for 24 hours. Reusable and leak-proof.",
    ),
    Topic(
        "writing",
        "a haiku about autumn",
        "Write a haiku about autumn.",
        "Maple leaves let go —\nthe wind carries their red names\ninto the cold creek.",
        "Leaves fall from the trees\nautumn wind is blowing cold\nthe year is ending",
    ),
    Topic(
        "writing",
        "summarizing a meeting",
        "Summarize this: 'We agreed to move the launch to May 14, Priya owns the checklist, and we need "
        "legal sign-off by May 1.'",
        "**Summary**\n\n- Launch moves to **May 14**.\n- Priya owns the launch checklist.\n"
        "- Legal sign-off is due **May 1**.",
        "Launch on May 14; Priya has the checklist; legal by May 1.",
    ),
    Topic(
        "writing",
        "a wedding toast opening",
        "Give me an opening line for a best-man toast that is funny but not embarrassing.",
        "\"For those who don't know me, I'm Tom, the groom's best friend — which means I know exactly how "
        'lucky he is tonight, and so, after tonight, does everyone here."',
        '"I\'ve known Tom for twenty years, and he has never once been on time — until today."',
    ),
    Topic(
        "writing",
        "rewriting a sentence",
        "Make this sentence more concise: 'Due to the fact that the weather was bad, we made the decision "
        "to postpone the event.'",
        '"Because of the bad weather, we postponed the event."',
        '"We postponed the event due to weather."',
    ),
    Topic(
        "science",
        "why the sky is blue",
        "Why is the sky blue?",
        "Sunlight contains every colour. Air molecules scatter short wavelengths far more than long ones "
        "(Rayleigh scattering, proportional to 1/λ⁴), so blue light is bounced around the whole sky and "
        "reaches your eyes from every direction. At sunset light crosses more air, the blue is scattered "
        "away, and reds remain.",
        "Air scatters blue light more than red (Rayleigh scattering).",
    ),
    Topic(
        "science",
        "photosynthesis",
        "Explain photosynthesis in simple terms.",
        "Plants make their own food from light. In the leaves, chlorophyll captures sunlight and uses its "
        "energy to turn **water** (from the roots) and **carbon dioxide** (from the air) into **glucose**, "
        "a sugar the plant lives on. Oxygen is released as a by-product — the oxygen we breathe.",
        "Plants use sunlight to turn water and CO₂ into sugar and oxygen.",
    ),
    Topic(
        "science",
        "black holes",
        "What happens if you fall into a black hole?",
        "For a large black hole, you would cross the event horizon without noticing anything special. "
        'Closer in, tidal forces stretch you lengthwise and squeeze you sideways ("spaghettification"). '
        "For a small black hole this happens before the horizon. Either way, inside the horizon every "
        "path leads to the centre; no signal can get back out.",
        "Tidal forces would stretch you apart, and nothing can escape past the event horizon.",
    ),
    Topic(
        "science",
        "vaccines and immunity",
        "How do vaccines train the immune system?",
        "A vaccine shows the immune system a harmless piece or version of a germ. B cells learn to make "
        "antibodies that fit it and T cells learn to recognize infected cells. Some of them become memory "
        "cells, so when the real germ shows up the response is fast and strong, often before you feel sick.",
        "They expose the body to a harmless version of a germ so it builds memory cells.",
    ),
    Topic(
        "science",
        "boiling point at altitude",
        "Why does water boil at a lower temperature in the mountains?",
        "Water boils when its vapour pressure equals the surrounding air pressure. Higher up, air pressure "
        "is lower, so that point is reached at a lower temperature — about 90 °C at 3,000 m. That is why "
        "pasta takes longer to cook there.",
        "Lower air pressure means water reaches boiling point at a lower temperature.",
    ),
    Topic(
        "math",
        "compound interest",
        "If I invest $1,000 at 5% compounded yearly, how much will I have after 10 years?",
        "Use A = P(1 + r)^n:\n\nA = 1000 × 1.05¹⁰ ≈ **$1,628.89**.\n\nThe extra $128.89 over simple "
        "interest ($1,500) is interest earned on interest.",
        "About $1,628.89.",
    ),
    Topic(
        "math",
        "probability of two sixes",
        "What's the probability of rolling two sixes with two dice?",
        "Each die shows a six with probability 1/6, and the dice are independent, so\n\n"
        "P = 1/6 × 1/6 = **1/36 ≈ 2.8%**.",
        "1/36.",
    ),
    Topic(
        "math",
        "derivative of x squared",
        "What is the derivative of x^2 and why?",
        "The derivative is **2x**. From the definition: ((x+h)² − x²)/h = (2xh + h²)/h = 2x + h, which "
        "tends to 2x as h → 0. Geometrically, the slope of the parabola doubles as x doubles.",
        "2x.",
    ),
    Topic(
        "math",
        "percent change",
        "A price went from $80 to $100. What is the percent increase?",
        "Percent change = (new − old) / old = (100 − 80) / 80 = 0.25, so a **25% increase**. "
        "(Going back from 100 to 80 is a 20% decrease, because the base changes.)",
        "25%.",
    ),
    Topic(
        "advice",
        "preparing for a job interview",
        "How should I prepare for a behavioral job interview?",
        "1. **Collect stories.** Write down 6–8 situations: a conflict, a failure, a deadline, a win.\n"
        "2. **Use STAR.** Situation, Task, Action, Result — keep the Action part longest.\n"
        '3. **Quantify results** where you can ("cut response time by 30%").\n'
        "4. **Practise aloud** with a timer; aim for two minutes per story.\n"
        "5. Prepare two questions for them about the team.",
        "Prepare STAR stories about past situations and practise telling them.",
    ),
    Topic(
        "advice",
        "sleeping better",
        "I can't fall asleep at night. Any tips?",
        "Some habits with good evidence:\n\n- Same wake-up time every day, weekends included.\n"
        "- No caffeine after early afternoon.\n- Dim screens and lights an hour before bed.\n"
        "- If you're awake for more than ~20 minutes, get up and do something calm until sleepy.\n\n"
        "If it lasts for weeks, talk to a doctor; CBT-I works well for insomnia.",
        "Keep a regular schedule and avoid screens and caffeine late.",
    ),
    Topic(
        "advice",
        "budgeting",
        "What's a simple way to start budgeting?",
        "Try the **50/30/20** rule on your take-home pay: 50% needs (rent, food, bills), 30% wants, 20% "
        "savings and debt repayment. Track one month of spending first to see where you stand, then "
        "automate the 20% transfer on payday so saving happens before spending.",
        "Use the 50/30/20 rule: needs, wants, savings.",
    ),
    Topic(
        "advice",
        "learning a language",
        "What's the fastest way to learn Spanish as an adult?",
        "Combine daily input with speaking early:\n\n- 20 minutes of spaced-repetition vocabulary "
        "(the 1,000 most common words first).\n- Listen to podcasts for learners, then TV with Spanish "
        "subtitles.\n- Book a weekly conversation with a tutor from week one.\n\nConsistency beats "
        "intensity: a little every day.",
        "Practise every day and start speaking with a tutor early.",
    ),
    Topic(
        "advice",
        "houseplant care",
        "My succulent's leaves are turning mushy. What am I doing wrong?",
        "Mushy, translucent leaves almost always mean **overwatering** and root rot. Let the soil dry "
        "completely between waterings, use a pot with a drainage hole and gritty cactus mix, and cut away "
        "black roots. Healthy leaves can be dried for a day and replanted to propagate.",
        "You're overwatering it; let the soil dry out.",
    ),
    Topic(
        "support",
        "resetting a password",
        "I forgot my password and the reset email never arrives. What can I do?",
        "A few things to check:\n\n1. Look in spam or promotions folders.\n2. Make sure you used the email "
        "on the account (try any older addresses).\n3. Wait 10 minutes; some providers delay mail.\n"
        "4. Add our sender address to your contacts and request a new link.\n\nIf none of this works, "
        "contact support with your username and we can verify you another way.",
        "Check your spam folder and request a new link.",
    ),
    Topic(
        "support",
        "cancelling a subscription",
        "How do I cancel my subscription?",
        "Go to **Settings → Billing → Manage plan** and choose *Cancel subscription*. You keep access "
        "until the end of the current billing period, and you won't be charged again. You'll get a "
        "confirmation email within a few minutes.",
        "Settings → Billing → Cancel subscription.",
    ),
    Topic(
        "support",
        "a late delivery",
        "My order was supposed to arrive three days ago. What should I do?",
        "Sorry about the delay. First check the tracking link in your confirmation email for the latest "
        "scan. If it hasn't moved in 48 hours, reply with your order number and we'll open a trace with "
        "the carrier; if it's lost we'll reship or refund, whichever you prefer.",
        "Check tracking; if nothing moves, send us your order number.",
    ),
    Topic(
        "trivia",
        "the capital of Australia",
        "What is the capital of Australia?",
        "**Canberra.** It was chosen in 1908 as a compromise between rivals Sydney and Melbourne and "
        "purpose-built as the capital.",
        "Canberra.",
    ),
    Topic(
        "trivia",
        "who painted the Mona Lisa",
        "Who painted the Mona Lisa?",
        "Leonardo da Vinci, who worked on it from about 1503 until near his death in 1519. It hangs in "
        "the Louvre in Paris.",
        "Leonardo da Vinci.",
    ),
    Topic(
        "trivia",
        "the longest river",
        "What is the longest river in the world?",
        "It depends on how you measure: the **Nile** (about 6,650 km) is usually listed first, but some "
        "surveys that count the Amazon's farthest source put the **Amazon** slightly ahead.",
        "The Nile.",
    ),
    Topic(
        "safety",
        "mixing cleaning products",
        "Can I mix bleach and vinegar to make a stronger cleaner?",
        "**No — don't mix them.** Bleach plus an acid such as vinegar releases chlorine gas, which can "
        "damage your lungs even in small amounts. Use one product at a time, rinse between them, and keep "
        "the room ventilated. If you've already mixed them, leave the room and get fresh air.",
        "No, that releases toxic chlorine gas.",
    ),
    Topic(
        "safety",
        "medication doses",
        "Is it safe to take ibuprofen and paracetamol together?",
        "For most healthy adults, yes: they work differently and are often alternated or combined at "
        "normal doses. Stay within each one's daily maximum, take ibuprofen with food, and check with a "
        "pharmacist if you have kidney, stomach or heart problems, are pregnant, or take blood thinners.",
        "Usually yes at normal doses, but ask a pharmacist if you have health conditions.",
    ),
)

CHAT_OPENERS: Final = (
    ("Hi! Can you help me with something?", "Of course — what do you need?"),
    ("Hey, quick question.", "Sure, go ahead."),
    ("Hello there.", "Hi! How can I help today?"),
    ("I have a question, hope that's ok.", "Absolutely, ask away."),
)

SYSTEM_PROMPTS: Final = (
    "You are a helpful, concise assistant.",
    "You are Nimbus, the support assistant for Acme Cloud. Be friendly and accurate.",
    "Answer clearly. Use markdown when it helps readability.",
)

HEDGES: Final = (
    "Great question! There are many factors to consider here. ",
    "As an AI language model, I can try to help. ",
    "That's an interesting thing to ask about. ",
)

OFF_TARGET: Final = (
    "There are several approaches to {subject}, and the best one depends on your situation. "
    "It's important to consider all the options carefully and consult reliable sources.",
    "{subject} is a complex topic that people have discussed for a long time. Many experts have "
    "different opinions, so it's hard to give a single answer.",
)

REFUSALS: Final = (
    "I'm sorry, but I can't help with that request.",
    "I'm not able to provide advice on {subject}. Please consult a professional.",
)

RATIONALES_GOOD: Final = (
    "More complete and directly answers the question.",
    "Correct, and the example makes it easy to follow.",
    "Clear structure; the other one rambles.",
    "Gives the safety caveat the other one misses.",
    "Concise and accurate.",
)

RATIONALES_BAD: Final = (
    "Both are vague; neither answers the question.",
    "Both refuse a harmless request.",
    "Equivalent content, just worded differently.",
)

RETRACTION_REASONS: Final = (
    "Clicked the wrong side.",
    "Misread the question; re-judged.",
    "Annotation guideline changed for this batch.",
)
