"""Regression cases for the phenomena the real-world set (bench/realset) showed, in our own words.

Each case is a short text written here (never copied from the set) that exercises one
class of miss or false alarm found on real multilingual news: German compounds, Cyrillic
and Greek names, Polish and Hungarian inflections, French and Spanish wording of the
European-army idea, names only in a list of leaders, asides, other Kallases, negated
"EU army", mixed-case "Safe". The real texts stay outside git; these keep the behaviour.
"""

from __future__ import annotations

import pytest

from monitor.models import Article

# (phenomenon, rule, should fire, title, text)
CASES = [
    # German compounds and genitives
    ("de compound: Verteidigungsunion", "defence-union", True, "",
     "Die Kommission will die EU bis 2030 zu einer echten Verteidigungsunion ausbauen."),
    ("de compound: EU-Verteidigungsunion", "defence-union", True, "",
     "Kritiker halten die geplante EU-Verteidigungsunion für ein Luftschloss."),
    ("de compound: Verteidigungskreditprogramm SAFE", "safe", True, "",
     "Das Verteidigungskreditprogramm SAFE der EU stellt den Mitgliedstaaten günstige Mittel bereit."),
    ("de compound: Luftverteidigungssysteme", "ukraine-military-aid", True, "",
     "Berlin sagte Kiew weitere Luftverteidigungssysteme zu, um ukrainische Städte zu schützen."),
    ("de compound: Europaarmee", "defence-union", True, "",
     "Die Idee einer Europaarmee findet in Paris mehr Anhänger als in Berlin."),
    ("de compound: SAFE-Kreditprogramm", "safe", True, "",
     "Polen ist der größte Nutznießer des SAFE-Kreditprogramms der EU."),
    ("ASCII transliteration: Kaya Kallas", "kallas", True, "",
     "Kaya Kallas said the EU would not recognise the annexation."),
    ("de genitive: Trumps", "trump-europe", True, "",
     "Trumps Drohungen gegen Dänemark beunruhigen die Regierungen in Europa."),
    ("de compound: Rüstungsagentur", "eda", True, "",
     "Die EU-Rüstungsagentur koordiniert gemeinsame Beschaffungen der Mitgliedstaaten."),
    # Cyrillic and Greek names, matched through their own script and transliteration
    ("ru name: Кая Каллас", "kallas", True, "",
     "Кая Каллас заявила в Брюсселе, что санкции против России будут продлены."),
    ("bg name: Калас with one l", "kallas", True, "",
     "Върховният представител Кая Калас пристигна в София."),
    ("ru name: Марк Рютте", "rutte", True, "",
     "Генсек НАТО Марк Рютте призвал союзников тратить больше на оборону."),
    ("bg name: Рюте", "rutte", True, "",
     "Марк Рюте говори пред посланиците на НАТО в Брюксел."),
    ("ru place: Гренландию with Трамп", "greenland", True, "",
     "Трамп снова заявил, что хочет купить Гренландию у Дании."),
    ("el name: Κάγια Κάλας", "kallas", True, "",
     "Η Κάγια Κάλας μίλησε για την Ουκρανία στις Βρυξέλλες."),
    ("el soprano: Μαρία Κάλλας", "kallas", False, "",
     "Η Μαρία Κάλλας τραγούδησε την Τόσκα στο Λονδίνο το 1964."),
    # inflections
    ("pl inflection: Marka Ruttego", "rutte", True, "",
     "Sojusz wybrał Marka Ruttego na nowego sekretarza generalnego NATO."),
    ("pl inflection: Grenlandii", "greenland", True, "",
     "Trump ponownie mówił o zakupie Grenlandii od Danii."),
    ("hu name order: Orbán Viktor", "orban", True, "",
     "Orbán Viktor miniszterelnök megvétózta az uniós döntést Ukrajnáról."),
    ("is place: Grænland", "greenland", True, "",
     "Trump hefur hótað að yfirtaka Grænland."),
    ("sv compound: försvarsunion", "defence-union", True, "",
     "Regeringen är skeptisk till en europeisk försvarsunion."),
    ("cs: evropská armáda", "defence-union", True, "",
     "Debata o tom, zda EU potřebuje evropská armáda, se vrací."),
    ("fi place: Grönlanti with Trump", "greenland", True, "",
     "Trump haluaa ostaa Grönlannin, mutta Tanska kieltäytyy."),
    ("sv loan word: lån", "safe", True, "",
     "EU:s SAFE ger medlemsländerna lån till gemensamma försvarsinköp."),
    # the European army and strategic autonomy in French, Spanish and Italian
    ("fr: armée européenne", "defence-union", True, "",
     "Le président a de nouveau plaidé pour une véritable armée européenne."),
    ("es: ejército europeo", "defence-union", True, "",
     "El debate sobre un ejército europeo vuelve con la guerra."),
    ("fr: autonomie stratégique en défense", "defence-union", True, "",
     "Le plan doit renforcer l'autonomie stratégique de l'Union en matière de défense."),
    ("fr: autonomie stratégique in trade", "defence-union", False, "",
     "La Commission défend l'autonomie stratégique ouverte de l'Union dans le commerce et les matières premières."),
    ("de: there is no EU army", "defence-union", False, "",
     "Verteidigung bleibt Sache der Mitgliedstaaten, es gibt keine EU-Armee."),
    # SAFE written Safe in German and Italian reports; the word safe in English
    ("it: strumento Safe", "safe", True, "",
     "Roma ha chiesto di accedere allo strumento Safe per ottenere prestiti per la difesa dall'Ue."),
    ("en: safe is a word", "safe", False, "",
     "Safe travels, said the minister, as the loans for the new bridge were signed in Brussels."),
    # ReArm Europe without its name, and other rearmament
    ("fr: the 800 billion plan unnamed", "rearm-europe", True, "",
     "Bruxelles veut mobiliser 800 milliards d'euros pour le réarmement du continent."),
    ("en: Germany's rearmament in 1935", "rearm-europe", False, "",
     "In 1935 Hitler announced the rearmament of Germany in defiance of the treaty."),
    # other Kallases
    ("namesake bio naming Kaja later", "kallas", False, "",
     "Kristina Kallas leads Eesti 200 and became education minister of Estonia in the "
     "government of Kaja Kallas."),
    ("Kaja first, her father after", "kallas", True, "",
     "Kaja Kallas, whose father Siim Kallas once sat in the European Commission, warned about Russia."),
    # names only in a list of leaders, asides
    ("Merz only in a list of leaders", "merz", False, "",
     "After the call he briefed Macron, Merz, Meloni and Stubb, the White House said about the Gaza talks."),
    ("Zelenskyy only in a list", "zelenskyy", False, "",
     "Leaders at the funeral included Macron, Zelenskyy, Meloni and Lula."),
    # a roll where each name carries its role: the neighbours sit further than NOT NEAR/2
    ("Merz inside a roll of leaders with their roles", "merz", False, "",
     "After the talks the president called Macron, German Chancellor Merz, Polish Prime "
     "Minister Tusk and the NATO secretary general to brief them on the ceasefire plan."),
    ("Merz in a roll, but named again: his story", "merz", True, "",
     "He called Macron, German Chancellor Merz, Polish Prime Minister Tusk and others. "
     "Merz later told the Bundestag that Germany would send more air defence."),
    ("Merz meets one leader: not a roll", "merz", True, "",
     "Chancellor Merz met Giorgia Meloni in Rome to talk about defence spending."),
    ("Zelenskyy inside a roll of leaders with their roles", "zelenskyy", False, "",
     "The summit photo shows French President Macron, Ukrainian President Zelenskyy, Italian "
     "Prime Minister Meloni and others on the steps of the palace in Tirana."),
    ("Zelenskyy's request a few words from Merz: not a roll", "zelenskyy", True, "",
     "Bei dem Treffen bat Selenskyj um weitere Marschflugkörper, doch Merz legte sich nicht fest."),
    ("Starmer in a funeral attendee roll", "starmer", False, "",
     "Hundreds of mourners filled the cathedral for the state funeral. Among the guests "
     "photographed in the nave were Labour leader Sir Keir Starmer, Mayor Sadiq Khan and the "
     "former prime minister David Cameron."),
    ("Starmer at a funeral, named twice: his story", "starmer", True, "",
     "Keir Starmer attended the funeral with Sadiq Khan. Starmer later told reporters that "
     "the government would fund a memorial."),
    ("Orbán as an aside, no Hungary in the sentence", "orban", False,
     "Estonia's Kallas takes over EU foreign policy",
     "She has clashed with Berlin over Russia and wants more sanctions. " * 6
     + "At one summit she even took on Viktor Orbán."),
    ("first lady's story names her husband once", "zelenskyy", False,
     "First Lady Olena Zelenska opens a school in Lviv",
     "Olena Zelenska, the wife of President Zelensky, met teachers and children."),
    ("Kallas only in a caption list", "kallas", False, "Leaders meet in Granada",
     "The summit discussed migration, budgets and enlargement for two days. " * 7
     + "Pictured: Kaja Kallas, Macron, Meloni."),
    ("Kallas named once in the lead", "kallas", True, "",
     "Kaja Kallas said the bloc would keep supporting Kyiv."),
    ("backed Rutte for NATO chief, deep in another story", "rutte", False, "Hungary passes its budget",
     "The parliament in Budapest voted on taxes, pensions and the deficit for next year. " * 6
     + "Budapest also backed Rutte for NATO chief last year."),
    ("theme without the keyword: sovereign European defence", "defence-union", True, "",
     "The paper calls for sovereign European defence within ten years."),
    ("theme without the keyword: its own army", "defence-union", True, "",
     "Brussels should build its own army, the former commissioner told the Europe forum."),
    # Greenland's other stories
    ("Greenland science naming Denmark", "greenland", False, "",
     "Danish researchers measured how fast the Greenland ice sheet melted this summer."),
    # since the rebuilt set: rolls of arrivals, first names in rolls, late introductions,
    # Polish weapons phrases, and namesakes of other kinds (a film, a dish, a composer, a method)
    ("roll of arrivals: titled Rutte and another leader, once", "rutte", False,
     "Leaders gather in London for a Ukraine summit",
     "The prime minister welcomed his guests on the steps and spoke briefly to the cameras. " * 5
     + "NATO Secretary General Mark Rutte and Justin Trudeau arrived shortly after noon."),
    ("titled Rutte named twice is still a Rutte story", "rutte", True,
     "Leaders gather in London for a Ukraine summit",
     "The prime minister welcomed his guests on the steps and spoke briefly to the cameras. " * 5
     + "NATO Secretary General Mark Rutte and Justin Trudeau arrived shortly after noon. "
     "Rutte told reporters the alliance would stand by Kyiv."),
    ("first name in a roll: Sir Keir and Zelensky", "zelenskyy", False, "",
     "The talks were convened by the German chancellor and, with Sir Keir and Zelensky, "
     "drew the leaders of six more countries."),
    ("pl weapons phrase: dostawy broni", "ukraine-military-aid", True, "",
     "Prezydent apelował o szybsze dostawy broni dla Ukrainy przed zimą."),
    ("pl verb, not weapons: Ukraina broni się", "ukraine-military-aid", False, "",
     "Ukraina broni się już trzeci rok, a jej armia odpiera ataki na wschodzie."),
    ("late introduction: the Estonian liberal Kaja Kallas", "kallas", True, "",
     "The post steers the common foreign and security policy of the Union and chairs the "
     "monthly council of foreign ministers. " * 4
     + "The name most often heard for the succession is that of the Estonian liberal Kaja Kallas."),
    ("en film: Greenland the comet movie", "greenland", False, "Greenland review",
     "Gerard Butler drives his family to a military airfield, hoping for a seat on a plane "
     "to the bunkers in Greenland before the comet strikes."),
    ("fr dish: la poutine", "putin", False, "",
     "La poutine, ce sont des frites, du fromage en grains et une sauce brune; à Montréal, "
     "chacun défend sa poutine préférée."),
    ("composer: Carl Maria von Weber", "weber", False, "",
     "Carl Maria von Weber conducted in Dresden and wrote Der Freischütz, the founding work "
     "of German romantic opera; Weber died in London."),
    ("data science: EDA as exploratory data analysis", "eda", False, "",
     "Exploratory data analysis (EDA) comes first: with pandas we check the shape, the "
     "missing values and the capabilities of the dataset before any model."),
    # more cases and scripts of the two core names
    ("et genitive: Kaja Kallase", "kallas", True, "",
     "Kaja Kallase sõnul peab Euroopa Liit Ukrainat edasi toetama."),
    ("cs genitive first name: Kaje Kallas", "kallas", True, "",
     "Podle Kaje Kallas musí Unie dál podporovat Ukrajinu."),
    ("el name: Μαρκ Ρούτε", "rutte", True, "",
     "Ο Μαρκ Ρούτε ζήτησε από τους συμμάχους περισσότερες δαπάνες για την άμυνα."),
    ("lv one t: Marks Rute", "rutte", True, "",
     "NATO ģenerālsekretārs Marks Rute aicināja sabiedrotos vairāk tērēt aizsardzībai."),
    # a NATO share-of-GDP target without the word defence
    ("en NATO target without 'defence': the 5% goal", "defence-spending-target", True, "",
     "At the NATO summit the allies set a goal of 5% of GDP by 2035; Britain expects to "
     "reach 4.1% of GDP in 2027."),
    ("en NATO target in the headline, GDP in the text", "defence-spending-target", True,
     "Prime minister sets a date for the new target",
     "Under NATO's new definitions the government expects to reach 3.5% of GDP by 2030."),
    ("en research target of GDP, no NATO", "defence-spending-target", False, "",
     "The Union keeps its target of spending 3% of GDP on research and development."),
    # the spending and its target in other languages' own words: a German compound for
    # military spending with the bare "Ziel", "Wirtschaftsleistung" for GDP, a spelled-out
    # "prodotto interno lordo", a Czech "výdaje na obranu" with "cíl"
    ("de compound: Zwei-Prozent-Ziel bei den Militärausgaben", "defence-spending-target", True, "",
     "Nur die Hälfte der Bündnisstaaten erfüllt bislang das Zwei-Prozent-Ziel bei den Militärausgaben."),
    ("de GDP as Wirtschaftsleistung", "defence-spending-target", True, "",
     "Washington verlangt von den Verbündeten, drei Prozent ihrer Wirtschaftsleistung für die "
     "Verteidigung auszugeben."),
    ("de Wehretat with Ziel", "defence-spending-target", True, "",
     "Der Wehretat soll steigen, damit Berlin das Nato-Ziel bis 2029 erreicht."),
    ("it GDP spelled out: prodotto interno lordo", "defence-spending-target", True, "",
     "Roma promette di portare la spesa militare al 2 per cento del prodotto interno lordo."),
    ("cs spending with cíl", "defence-spending-target", True, "",
     "Vláda chce splnit cíl aliance a zvýšit výdaje na obranu na dvě procenta HDP."),
    ("de Ziel as a target of attack beside spending", "defence-spending-target", False, "",
     "Das Bündnis könne das nächste Ziel Moskaus werden, warnte er und rief zu höheren "
     "Militärausgaben auf."),
    ("de Ziel without any spending or GDP word", "defence-spending-target", False, "",
     "Das Ziel der Regierung bleibt ein ausgeglichener Haushalt bis zum Ende der Wahlperiode."),
    ("nl lowercase pil is not PIL", "defence-spending-target", False, "",
     "De minister van Defensie slikte de bittere pil: het budget blijft gelijk."),
    # a roll of guests after "with": the host's company, each name with role, nationality and
    # first name (more than four tokens between names, so the two-sided roll veto misses it)
    ("it guest roll after con: Starmer", "starmer", False, "",
     "Lo ha detto il presidente ucraino prima del vertice con il premier britannico Keir Starmer, "
     "il cancelliere tedesco Friedrich Merz e il presidente francese Emmanuel Macron."),
    ("it guest roll after con: Merz", "merz", False, "",
     "Lo ha detto il presidente ucraino prima del vertice con il premier britannico Keir Starmer, "
     "il cancelliere tedesco Friedrich Merz e il presidente francese Emmanuel Macron."),
    ("en guest roll after with: Merz", "merz", False, "",
     "The Ukrainian president spoke before his talks with British Prime Minister Keir Starmer, "
     "German Chancellor Friedrich Merz and French President Emmanuel Macron."),
    ("it roll as the subject still counts: Starmer", "starmer", True, "",
     "Il presidente francese Emmanuel Macron, il primo ministro britannico Keir Starmer e il "
     "cancelliere tedesco Friedrich Merz sono arrivati a Kiev."),
    ("en host meets a guest: with after the name", "merz", True, "",
     "Chancellor Friedrich Merz met with French President Emmanuel Macron in Berlin on Tuesday."),
    # a rare surname said twice, with no context word beside it
    ("de bare surname twice: Merz ... so Merz", "merz", True, "",
     "Merz verlangte eine neue Ausrichtung der Union: Frieden gebe es nur aus Stärke, "
     "sagte Merz vor den Abgeordneten."),
    ("de drug company twice: Merz Pharma", "merz", False, "",
     "Merz Pharma steigerte den Umsatz mit Ästhetikprodukten; Merz will in Asien wachsen."),
    # the European army in cases and word orders no fixed phrase lists (adjective + noun)
    ("ru accusative: европейскую армию", "defence-union", True, "",
     "Министр предложил создать европейскую армию к концу десятилетия."),
    ("pl adjective first: europejskiej armii", "defence-union", True, "",
     "Pomysł europejskiej armii wraca po każdym szczycie w Brukseli."),
    ("sl genitive: evropske vojske", "defence-union", True, "",
     "Zamisel skupne evropske vojske ima v Parizu vedno več zagovornikov."),
    ("de genitive noun, not the adjective: stärkste Armee Europas", "defence-union", False, "",
     "Der Kanzler will die Bundeswehr zur stärksten Armee Europas machen."),
    ("en US command: U.S. Army Europe", "defence-union", False, "",
     "The exercise was run by U.S. Army Europe from its headquarters in Wiesbaden."),
    ("en plural: European armies", "defence-union", False, "",
     "European armies are short of shells, drones and trained reservists."),
    # fourth rebuild (issue 16): the languages and cases the lists lacked
    ("de dative: der strategischen Autonomie in der Verteidigung", "defence-union", True, "",
     "Die Kommission spricht von der strategischen Autonomie Europas in der Verteidigung."),
    ("pl genitive: autonomii strategicznej w obronności", "defence-union", True, "",
     "Ministrowie rozmawiali o budowie autonomii strategicznej Unii w dziedzinie obronności."),
    ("fi: strategic autonomy beside puolustus", "defence-union", True, "",
     "Komissio haluaa vahvistaa strategista autonomiaa ja EU:n puolustusta."),
    ("pl genitive: autonomii strategicznej in trade", "defence-union", False, "",
     "Komisja mówi o autonomii strategicznej w handlu i surowcach krytycznych."),
    ("pt: União Europeia de Defesa", "defence-union", True, "",
     "O comissário defendeu uma verdadeira União Europeia de Defesa até 2030."),
    ("ro: Uniunea Europeană a Apărării", "defence-union", True, "",
     "Ministrul a vorbit despre Uniunea Europeană a Apărării la Bruxelles."),
    ("nl definite: het Europese leger", "defence-union", True, "",
     "Het idee van het Europese leger keert terug in Den Haag."),
    ("sv: its own army, egen armé, beside the EU", "defence-union", True, "",
     "Ska EU bygga upp en egen armé? Frågan delar regeringen."),
    ("hu place: Ukrajna is Ukraine", "ukraine-military-aid", True, "",
     "A kormány újabb katonai segélyt küldött Ukrajnának."),
    ("fr: acheter le Groenland", "greenland", True, "",
     "Le président américain a répété qu'il voulait acheter le Groenland."),
    ("nl: overname van Groenland", "greenland", True, "",
     "De overname van Groenland blijft volgens Washington op tafel liggen."),
    ("hr: kupnja Grenlanda", "greenland", True, "",
     "Ideja o kupnji Grenlanda ponovno je na stolu u Washingtonu."),
    ("fr: acheter near Greenland science is still not it", "greenland", False, "",
     "Les chercheurs ont dû acheter du matériel neuf pour mesurer la fonte de la calotte du Groenland."),
    ("et case: Kallase sõnul, beside the EU", "kallas", True, "",
     "Kallase sõnul peab EL jätkama Ukraina toetamist."),
    ("bg one l, bare surname: Калас", "kallas", True, "",
     "Калас заяви, че ЕС ще продължи да подкрепя Украйна."),
    ("el one l, bare surname: Κάλας", "kallas", True, "",
     "Η Κάλας δήλωσε ότι η ΕΕ θα στηρίξει την Ουκρανία."),
    ("de namesake bio naming Kaja once, then Kristina again", "kallas", False, "",
     "Kristina Kallas ist eine estnische Politikerin. Sie ist Ministerin in der Regierung von "
     "Kaja Kallas. Zuvor leitete Kristina Kallas ein Institut in Tartu."),
    ("en Kaja named once first, her father twice after", "kallas", True, "",
     "Kaja Kallas grew up in politics. Her father Siim Kallas founded the Reform Party, and "
     "Siim Kallas later served as EU commissioner; the EU's new top diplomat says Russia must pay."),
    ("en Kaja story naming her father once", "kallas", True, "",
     "Kaja Kallas, whose father Siim Kallas was prime minister, said the EU must help Ukraine."),
    ("sv party: Kalas is not Kallas without her world", "kallas", False, "",
     "Kalas hela helgen hos grannarna, med tårta och musik."),
    ("en Merz once in the lead", "merz", True, "",
     "German Chancellor Friedrich Merz has called for a debate on nuclear sharing with France."),
    ("en Merz aside deep in a nuclear story", "merz", False, "",
     "France has the only independent nuclear arsenal in the European Union, and its president has offered to discuss how that deterrent could protect the allies. The offer is not new: he made it in a speech five years ago, and few capitals answered then. Since the war in Ukraine and the doubts about American guarantees, the debate has changed, and officials in several capitals now say they want to hear the details before the summit. German Chancellor Friedrich Merz has shown interest in the idea."),
    ("en Merz deep in a story, introduced by an apposition", "merz", True, "",
     "France has the only independent nuclear arsenal in the European Union, and its president has offered to discuss how that deterrent could protect the allies. The offer is not new: he made it in a speech five years ago, and few capitals answered then. Since the war in Ukraine and the doubts about American guarantees, the debate has changed, and officials in several capitals now say they want to hear the details before the summit. Friedrich Merz, Germany's chancellor, has said Europe must prepare for it."),
    ("en Merz once in the lead", "merz", True, "",
     "German Chancellor Friedrich Merz has called for a debate on nuclear sharing with France."),
    ("en Starmer aside deep in a nuclear story", "starmer", False, "",
     "France has the only independent nuclear arsenal in the European Union, and its president has offered to discuss how that deterrent could protect the allies. The offer is not new: he made it in a speech five years ago, and few capitals answered then. Since the war in Ukraine and the doubts about American guarantees, the debate has changed, and officials in several capitals now say they want to hear the details before the summit. Keir Starmer has said Britain would keep its own deterrent under NATO."),
    ("en: a sum in billions from SAFE", "safe", True, "",
     "Poland will receive 43.7 billion euros from SAFE, the Commission said."),
    ("fr: le mécanisme SAFE", "safe", True, "",
     "Le mécanisme SAFE doit aider les États membres à acheter ensemble des munitions."),
    ("en shouting headline SAFE with billions, no EU", "safe", False, "",
     "IS YOUR PENSION SAFE? Funds worth 40 billion dollars face new rules in Texas."),
    ("nl: onafhankelijk in defensie", "defence-union", True, "",
     "Europa moet op het gebied van defensie onafhankelijk worden van Washington."),
    ("fr: souveraineté européenne en matière de défense", "defence-union", True, "",
     "Le président a plaidé pour une souveraineté européenne en matière de défense."),
    ("en: Ukraine's sovereignty and its defence is not it", "defence-union", False, "",
     "Allies pledged to support Ukrainian sovereignty and the defence of its cities."),
    ("sr Cyrillic, one t: Руте", "rutte", True, "",
     "Генерални секретар НАТО Руте рекао је да савез мора да троши више."),
    ("sl instrumental: z Ruttejem", "rutte", True, "",
     "Minister se je v Bruslju sestal z Ruttejem, generalnim sekretarjem zveze NATO."),
    ("de noun Rute is not Rutte", "rutte", False, "",
     "Der Gärtner schnitt eine Rute vom Haselstrauch."),
    ("pt title: secretário-geral da NATO", "rutte", True, "",
     "O secretário-geral da NATO pediu aos aliados mais investimento em defesa aérea."),
    ("pl EU adjective: unijnego programu SAFE", "safe", True, "",
     "Rząd chce pożyczek z unijnego programu SAFE na zakup dronów."),
    ("et EU genitive: ELi SAFE", "safe", True, "",
     "Läti taotleb ELi SAFE programmist laenu õhutõrje jaoks."),
    ("no EU genitive: EUs SAFE-program", "safe", True, "",
     "Regjeringen vil delta i EUs SAFE-program for felles innkjøp."),
    ("bg Trump: Тръмп and Greenland", "greenland", True, "",
     "Тръмп отново заяви, че САЩ трябва да получат Гренландия."),
    ("bg defence word: отбрана with 800 billion", "rearm-europe", True, "",
     "Брюксел иска да мобилизира 800 милиарда евро за отбрана."),
    ("hu defence stem: védelemre with 800 billion", "rearm-europe", True, "",
     "Az EU 800 milliárd eurót fordítana védelemre."),
    ("cs locative: o evropské armádě", "defence-union", True, "",
     "Ministři znovu mluví o evropské armádě."),
    ("hu suffix: az európai hadseregről", "defence-union", True, "",
     "A miniszter az európai hadseregről beszélt Brüsszelben."),
    ("hr locative: o europskoj vojsci", "defence-union", True, "",
     "Premijer je govorio o europskoj vojsci."),
    ("lv accusative: Eiropas armiju", "defence-union", True, "",
     "Ministrs atbalsta Eiropas armiju."),
    ("hu plural is the national armies: európai hadseregek", "defence-union", False, "",
     "Az európai hadseregek lőszerhiánnyal küzdenek."),
    ("sk case: podľa Kallasovej", "kallas", True, "",
     "Podľa Kallasovej musí EÚ zrýchliť pomoc Ukrajine."),
    ("cs accusative: strategickou autonomii v obraně", "defence-union", True, "",
     "Evropa potřebuje strategickou autonomii v obraně."),
    ("hu suffix: stratégiai autonómiára a védelemben", "defence-union", True, "",
     "Európának stratégiai autonómiára van szüksége a védelemben."),
    ("hu: Grönland nem eladó", "greenland", True, "",
     "Grönland nem eladó, mondta a dán miniszterelnök."),
    ("sv: inte till salu", "greenland", True, "",
     "Grönland är inte till salu, sade Danmarks statsminister."),
    ("bg: не се продава", "greenland", True, "",
     "Гренландия не се продава, заяви датският премиер."),
    ("es: el uso de la fuerza", "greenland", True, "",
     "La Casa Blanca no descarta el uso de la fuerza para hacerse con Groenlandia."),
    ("da: krav på Grønland", "greenland", True, "",
     "Den danske regering afviser amerikanske krav på Grønland."),
    ("da: krav til, requirements, beside Greenland fishing is not it", "greenland", False, "",
     "Der kommer nye krav til fiskeriet i Grønland fra næste år."),
    ("de Anspruch as an aspiration beside Greenland is not it", "greenland", False, "",
     "Der Anspruch der Expedition war es, Grönland auf Skiern zu durchqueren."),
    ("fi: 800 miljardia euroa puolustukseen", "rearm-europe", True, "",
     "EU haluaa 800 miljardia euroa puolustukseen vuoteen 2030 mennessä."),
    ("hi: ट्रम्प and ग्रीनलैंड", "greenland", True, "",
     "डोनाल्ड ट्रम्प ग्रीनलैंड को खरीदना चाहते हैं, डेनमार्क ने मना किया।"),
    ("hi: मार्क रुटे", "rutte", True, "",
     "नाटो महासचिव मार्क रुटे ने कहा कि यूरोप को रक्षा खर्च बढ़ाना होगा।"),
    ("de: der europäische Pfeiler der NATO", "defence-union", True, "",
     "Berlin will den europäischen Pfeiler der NATO stärken."),
    ("fr: le pilier européen de l'Otan", "defence-union", True, "",
     "Paris veut bâtir le pilier européen de l'Otan."),
    ("fr: the social-rights pillar is not it", "defence-union", False, "",
     "Le pilier européen des droits sociaux garantit un salaire minimum."),
    ("cs: nástroj SAFE", "safe", True, "",
     "Nástroj SAFE nabídne členským státům EU levné úvěry na obranu."),
    ("ro: programul SAFE", "safe", True, "",
     "România va primi fonduri prin programul SAFE al Uniunii Europene."),
    ("el: πρόγραμμα SAFE", "safe", True, "",
     "Η Ελλάδα θα συμμετάσχει στο πρόγραμμα SAFE της ΕΕ για την άμυνα."),
    ("pl: Gotowość 2030", "rearm-europe", True, "",
     "Plan Gotowość 2030 ma wzmocnić obronę kontynentu."),
    ("nl: 800 miljard with herbewapening", "rearm-europe", True, "",
     "De Commissie wil 800 miljard vrijmaken voor de herbewapening van de lidstaten."),
    ("it: Rearm Europa", "rearm-europe", True, "",
     "Il piano Rearm Europa divide la maggioranza."),
    # (fifth session) a leader named only as an attribute of someone else: his adviser, his
    # office, his government, his ally
    ("Zelenskyy only as the adviser's boss", "zelenskyy", False, "",
     "Mykhailo Podolyak, an adviser to President Zelensky, told the paper that the talks had stalled."),
    ("pl: doradca prezydenta Zełenskiego", "zelenskyy", False, "",
     "Doradca prezydenta Zełenskiego ocenił w wywiadzie rolę Polski w pomocy dla uchodźców."),
    ("ru: советник офиса Зеленского", "zelenskyy", False, "",
     "Советник главы офиса Зеленского рассказал журналистам о своей семье."),
    ("sr: savetnik Zelenskog, a case the list lacked", "zelenskyy", False, "",
     "Savetnik ukrajinskog predsednika Zelenskog odgovorio je na pitanja novinara iz Beograda."),
    ("de: der Selenskyj-Berater", "zelenskyy", False, "",
     "Der Selenskyj-Berater warnte vor voreiligen Zugeständnissen an Moskau."),
    ("the government of President Zelensky as an aside", "zelenskyy", False, "",
     "Moscow said the import ban was a blow to the government of Ukrainian President Volodymyr Zelensky."),
    ("Zelenskyy meets the government: still his story", "zelenskyy", True, "",
     "Zelenskyy held a meeting with the government on grain exports on Monday."),
    ("sr: Zelenskog as the object of a visit", "zelenskyy", True, "",
     "Premijer je u Kijevu razgovarao sa Zelenskim, a zatim je primio i Zelenskog u Beogradu."),
    ("cs: Zelenskému, dative", "zelenskyy", True, "",
     "Premiér slíbil Zelenskému další munici pro ukrajinskou armádu."),
    ("Putin only as Medvedev's patron, twice", "putin", False, "Putin ally warns the West",
     "Dmitry Medvedev, a close ally of Vladimir Putin and long close to Putin, warned of nuclear war."),
    ("de: der Putin-Vertraute, twice", "putin", False, "",
     "Der Putin-Vertraute Medwedew drohte erneut. Auch ein zweiter Putin-Vertrauter meldete sich zu Wort."),
    ("es: aliado de Putin", "putin", False, "Gobierno de Putin amenaza a Occidente",
     "Medvédev, principal aliado de Vladimir Putin, advirtió a Europa."),
    ("Putin's war twice as an aside", "putin", False, "",
     "Putin's war has pushed up gas prices. Since Putin's invasion, households pay twice as much."),
    ("de: Putins Krieg as an aside", "putin", False, "Putins Krieg treibt die Preise",
     "Seit Putins Angriffskrieg zahlen die Haushalte mehr für Strom und Gas."),
    ("Putin said the war: still his", "putin", True, "",
     "Putin said the war would go on. Putin also warned Europe against sending troops."),
    ("nl: Poetin, a spelling the list lacked", "putin", True, "",
     "Poetin zei dat Rusland klaar is voor gesprekken. Volgens Poetin ligt de bal bij Kyiv."),
    ("Putin a subject beside an ally: still his story", "putin", True, "",
     "Putin met Lukashenko in Minsk on Friday. Later Putin told reporters that the two allies would "
     "hold joint drills."),
]


def article(title: str, text: str) -> Article:
    return Article(url="example:phenomenon", feed_url="", guid="p", title=title, text=text)


@pytest.mark.parametrize(("phenomenon", "rule", "fires", "title", "text"), CASES, ids=[c[0] for c in CASES])
def test_phenomenon(ruleset, phenomenon, rule, fires, title, text):
    got = rule in {m.rule for m in ruleset.match(article(title, text))}
    assert got is fires, f"{phenomenon}: {rule} {'did not fire' if fires else 'fired'}"


def test_every_core_rule_has_a_non_english_case():
    core = {"kallas", "rutte", "greenland", "safe", "rearm-europe", "defence-union"}
    covered = {rule for phenomenon, rule, fires, _, _ in CASES if fires and not phenomenon.startswith("en")}
    assert core <= covered
